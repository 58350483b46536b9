/* members.c -- conversion of Apache struct fields to Python values and back. */
#include "mp_members.h"

#define FIELD(base, m, type) (*(type *)((char *)(base) + (m)->offset))

PyObject *mp_member_get(const void *base, const mp_member *m)
{
    switch (m->type) {
    case MP_M_STR:
        return mp_str_or_none(FIELD(base, m, const char *));
    case MP_M_PATH:
        return mp_path_or_none(FIELD(base, m, const char *));
    case MP_M_INT:
        return PyLong_FromLong(FIELD(base, m, int));
    case MP_M_UINT:
        return PyLong_FromUnsignedLong(FIELD(base, m, unsigned int));
    case MP_M_LONG:
        return PyLong_FromLong(FIELD(base, m, long));
    case MP_M_BOOL:
        return PyBool_FromLong(FIELD(base, m, int));
    case MP_M_OFF:
        return PyLong_FromLongLong((long long)FIELD(base, m, apr_off_t));
    case MP_M_INT64:
        return PyLong_FromLongLong((long long)FIELD(base, m, apr_int64_t));
    case MP_M_TIME:
        return PyFloat_FromDouble((double)FIELD(base, m, apr_time_t) / APR_USEC_PER_SEC);
    case MP_M_INTERVAL:
        return PyFloat_FromDouble((double)FIELD(base, m, apr_interval_time_t) / APR_USEC_PER_SEC);
    }
    PyErr_SetString(PyExc_SystemError, "mod_python: unknown member type");
    return NULL;
}

int mp_member_set(void *base, apr_pool_t *p, const mp_member *m, PyObject *v)
{
    const char *name = m->name;
    long long n;
    if (!v) {
        PyErr_Format(PyExc_TypeError, "%s cannot be deleted", name);
        return -1;
    }
    switch (m->type) {
    case MP_M_STR:
    case MP_M_PATH: {
        const char *s = NULL;
        if (v != Py_None) {
            s = m->type == MP_M_STR ? mp_latin1_copy(p, v, name) : mp_path_copy(p, v, name);
            if (!s)
                return -1;
        }
        FIELD(base, m, const char *) = s;
        return 0;
    }
    case MP_M_BOOL:
        n = PyObject_IsTrue(v);
        if (n < 0)
            return -1;
        FIELD(base, m, int) = (int)n;
        return 0;
    case MP_M_TIME:
    case MP_M_INTERVAL: {
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred())
            return -1;
        FIELD(base, m, apr_time_t) = (apr_time_t)(d * APR_USEC_PER_SEC);
        return 0;
    }
    default:
        break;
    }
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name, Py_TYPE(v)->tp_name);
        return -1;
    }
    n = PyLong_AsLongLong(v);
    if (n == -1 && PyErr_Occurred())
        return -1;
    switch (m->type) {
    case MP_M_INT:
        if (n < INT_MIN || n > INT_MAX) {
            PyErr_Format(PyExc_OverflowError, "%s is out of range", name);
            return -1;
        }
        FIELD(base, m, int) = (int)n;
        return 0;
    case MP_M_UINT:
        if (n < 0 || n > UINT_MAX) {
            PyErr_Format(PyExc_OverflowError, "%s is out of range", name);
            return -1;
        }
        FIELD(base, m, unsigned int) = (unsigned int)n;
        return 0;
    case MP_M_LONG:
        FIELD(base, m, long) = (long)n;
        return 0;
    case MP_M_OFF:
        FIELD(base, m, apr_off_t) = (apr_off_t)n;
        return 0;
    case MP_M_INT64:
        FIELD(base, m, apr_int64_t) = (apr_int64_t)n;
        return 0;
    default:
        break;
    }
    PyErr_SetString(PyExc_SystemError, "mod_python: unknown member type");
    return -1;
}
