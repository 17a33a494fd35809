// Thin shim over libmicrohttpd: non-variadic entry points for the variadic API.
#ifndef SCORESERVE_CMICROHTTPD_SHIM_H
#define SCORESERVE_CMICROHTTPD_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

/// Settings for `smhd_start_daemon`; zero means "libmicrohttpd's default".
typedef struct {
    unsigned int flags;               // MHD_USE_* bits
    const struct sockaddr *bind_addr; // NULL: all interfaces on `port`
    uint16_t port;                    // ignored when bind_addr is set
    unsigned int thread_pool_size;
    unsigned int connection_limit;
    unsigned int connection_timeout_s;
    size_t connection_memory_limit;
    unsigned int per_ip_connection_limit;   // 0: no limit per client address
    MHD_NotifyConnectionCallback notify_connection; // NULL: none
    void *notify_connection_cls;
} smhd_settings;

/// `MHD_start_daemon` is variadic (options as a list ending in MHD_OPTION_END),
/// which Swift cannot call; this wrapper takes the options as a struct.
static inline struct MHD_Daemon *smhd_start_daemon(
    const smhd_settings *s,
    MHD_AccessHandlerCallback handler, void *handler_cls,
    MHD_RequestCompletedCallback completed, void *completed_cls)
{
    struct MHD_OptionItem ops[10];
    int i = 0;
    if (s->bind_addr) { ops[i].option = MHD_OPTION_SOCK_ADDR; ops[i].value = 0; ops[i].ptr_value = (void *)s->bind_addr; i++; }
    if (s->thread_pool_size) { ops[i].option = MHD_OPTION_THREAD_POOL_SIZE; ops[i].value = s->thread_pool_size; ops[i].ptr_value = NULL; i++; }
    if (s->connection_limit) { ops[i].option = MHD_OPTION_CONNECTION_LIMIT; ops[i].value = s->connection_limit; ops[i].ptr_value = NULL; i++; }
    if (s->connection_timeout_s) { ops[i].option = MHD_OPTION_CONNECTION_TIMEOUT; ops[i].value = s->connection_timeout_s; ops[i].ptr_value = NULL; i++; }
    if (s->per_ip_connection_limit) { ops[i].option = MHD_OPTION_PER_IP_CONNECTION_LIMIT; ops[i].value = s->per_ip_connection_limit; ops[i].ptr_value = NULL; i++; }
    if (s->notify_connection) { ops[i].option = MHD_OPTION_NOTIFY_CONNECTION; ops[i].value = (intptr_t)s->notify_connection; ops[i].ptr_value = s->notify_connection_cls; i++; }
    if (s->connection_memory_limit) { ops[i].option = MHD_OPTION_CONNECTION_MEMORY_LIMIT; ops[i].value = (intptr_t)s->connection_memory_limit; ops[i].ptr_value = NULL; i++; }
    ops[i].option = MHD_OPTION_END; ops[i].value = 0; ops[i].ptr_value = NULL;
    return MHD_start_daemon(s->flags, s->port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_ARRAY, ops,
                            MHD_OPTION_END);
}

/// The port the daemon is bound to (useful after binding port 0); 0 on failure.
static inline uint16_t smhd_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

/// The socket of a connection (to detect a client that went away while suspended); -1 on failure.
static inline int smhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? (int)info->connect_fd : -1;
}
/// A response holding a private copy of `size` bytes (the memory-mode enum is
/// declared with an attribute Swift imports awkwardly).
static inline struct MHD_Response *smhd_response_from_copy(size_t size, const void *data) {
    return MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);
}
/// A response of unknown size whose body `reader` produces as it comes (chunked).
static inline struct MHD_Response *smhd_response_from_callback(size_t block_size, MHD_ContentReaderCallback reader,
                                                               void *cls, MHD_ContentReaderFreeCallback free_cls) {
    return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, block_size, reader, cls, free_cls);
}
#endif
