/* mp_version.h -- the version of the Apache module (its own, see CHANGELOG.md). */
#ifndef MP_VERSION_H
#define MP_VERSION_H

#define MP_VERSION_STRING "3.6.0.dev0"
#define MP_COMPONENT "mod_python/" MP_VERSION_STRING

#endif
