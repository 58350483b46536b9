/*
 * mp_ssi.h -- the <!--#python eval="..." / exec="..." --> element of
 * mod_include's INCLUDES filter (manual section 6).
 */
#ifndef MP_SSI_H
#define MP_SSI_H

#include "mp_common.h"

/* post_config hook: register the "python" element with mod_include, if loaded. */
int mp_ssi_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);

#endif /* MP_SSI_H */
