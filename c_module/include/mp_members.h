/*
 * mp_members.h -- attributes that read or write a field of an Apache struct.
 *
 * A type lists its fields as PyGetSetDef entries whose closure points to an
 * mp_member; mp_member_get/set do the conversion, so adding a member is one
 * line in the type's table.
 */
#ifndef MP_MEMBERS_H
#define MP_MEMBERS_H

#include "mp_apache.h"

typedef enum {
    MP_M_STR,       /* char *, ISO-8859-1 text */
    MP_M_PATH,      /* char *, a file system path */
    MP_M_INT,       /* int */
    MP_M_UINT,      /* unsigned int */
    MP_M_LONG,      /* long */
    MP_M_BOOL,      /* int used as a flag */
    MP_M_OFF,       /* apr_off_t */
    MP_M_INT64,     /* apr_int64_t */
    MP_M_TIME,      /* apr_time_t: seconds since the epoch, as float */
    MP_M_INTERVAL   /* apr_interval_time_t: seconds, as float */
} mp_member_type;

typedef struct {
    mp_member_type type;
    size_t offset;
    const char *name;
} mp_member;

/* A PyGetSetDef entry for the field `field` of `stype`, read-only or writable. */
#define MP_MEMBER_RO(stype, pyname, mtype, field, getf, doc) \
    {pyname, (getter)(getf), NULL, doc, \
     (void *)&(const mp_member){mtype, offsetof(stype, field), pyname}}
#define MP_MEMBER_RW(stype, pyname, mtype, field, getf, setf, doc) \
    {pyname, (getter)(getf), (setter)(setf), doc, \
     (void *)&(const mp_member){mtype, offsetof(stype, field), pyname}}

PyObject *mp_member_get(const void *base, const mp_member *m);
int mp_member_set(void *base, apr_pool_t *p, const mp_member *m, PyObject *v);

#endif
