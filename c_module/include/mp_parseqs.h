/*
 * mp_parseqs.h -- _apache.parse_qs() and _apache.parse_qsl(), the query
 * string parsers that mod_python.util exports (manual 4.6).
 */
#ifndef MP_PARSEQS_H
#define MP_PARSEQS_H

#include "mp_common.h"

/* parse_qs(qs, keep_blank_values=0, strict_parsing=0) -> {name: [value, ...]} */
PyObject *mp_parse_qs(PyObject *module, PyObject *args, PyObject *kw);
/* parse_qsl(qs, keep_blank_values=0, strict_parsing=0) -> [(name, value), ...] */
PyObject *mp_parse_qsl(PyObject *module, PyObject *args, PyObject *kw);

#endif /* MP_PARSEQS_H */
