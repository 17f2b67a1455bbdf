/* seccki logging: one line per event on stderr (or $SECCKI_LOG_FILE).
 * Level from $SECCKI_LOG: none, error, warn (default), info, debug.
 * Never pass a secret (PIN, key, session key) to these functions. */
#ifndef SECCKI_LOG_H
#define SECCKI_LOG_H

enum log_level { LOG_NONE = 0, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* True when messages of this level are printed; read from the environment on
 * each call, so the library holds no global state for it. */
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *area, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(area, ...) log_msg(LOG_ERROR, area, __VA_ARGS__)
#define log_warn(area, ...) log_msg(LOG_WARN, area, __VA_ARGS__)
#define log_info(area, ...) log_msg(LOG_INFO, area, __VA_ARGS__)
#define log_debug(area, ...)                                                   \
    do {                                                                       \
        if (log_enabled(LOG_DEBUG))                                            \
            log_msg(LOG_DEBUG, area, __VA_ARGS__);                             \
    } while (0)

#endif
