#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <unistd.h>

static enum log_level level_from_env(void)
{
    const char *v = getenv("SECCKI_LOG");
    static const char *const names[] = {"none", "error", "warn", "info", "debug"};

    if (v == NULL || *v == '\0')
        return LOG_WARN;
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (strcasecmp(v, names[i]) == 0)
            return (enum log_level)i;
    if (v[0] >= '0' && v[0] <= '4' && v[1] == '\0')
        return (enum log_level)(v[0] - '0');
    return LOG_WARN;
}

int log_enabled(enum log_level level)
{
    return level != LOG_NONE && level <= level_from_env();
}

void log_msg(enum log_level level, const char *area, const char *fmt, ...)
{
    static const char *const tags[] = {"", "error", "warn", "info", "debug"};
    char line[1024];
    int n;
    va_list ap;

    if (!log_enabled(level))
        return;
    n = snprintf(line, sizeof line, "seccki[%ld] %s: %s: ", (long)getpid(), tags[level], area);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);

    const char *path = getenv("SECCKI_LOG_FILE");
    FILE *f = NULL;
    if (path != NULL && *path != '\0')
        f = fopen(path, "a");
    fprintf(f ? f : stderr, "%s\n", line);
    if (f)
        fclose(f);
}
