/*
 * mp_connection.h -- PythonConnectionHandler (manual 4.4, 5.3.1).
 */
#ifndef MP_CONNECTION_H
#define MP_CONNECTION_H

#include "mp_config.h"

/* The connection's socket. */
#if MP_HTTPD_24
#define MP_CONN_SOCKET(c) ap_get_conn_socket(c)
#else
/* 2.2 declares core_module only under CORE_PRIVATE; its conn config is the socket. */
extern module AP_MODULE_DECLARE_DATA core_module;
#define MP_CONN_SOCKET(c) ((apr_socket_t *)ap_get_module_config((c)->conn_config, &core_module))
#endif

/* The PythonConnectionHandler directive (server config and virtual host). */
const char *mp_cmd_connection_handler(cmd_parms *cmd, void *mconfig, const char *spec);

/* Register the process_connection hook; called from register_hooks. */
void mp_register_connection_hooks(apr_pool_t *p);

#endif /* MP_CONNECTION_H */
