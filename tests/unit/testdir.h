/* Temporary directories for tests: made fresh, removed with what is in them. */
#ifndef SECCKI_TESTDIR_H
#define SECCKI_TESTDIR_H

#include <stddef.h>

/* Makes /tmp/seccki-NAME-XXXXXX into dir (cap bytes); 0 or -1. */
int testdir_make(char *dir, size_t cap, const char *name);
/* Removes dir and the files in it (one level, as the tests leave them). */
void testdir_remove(const char *dir);

#endif
