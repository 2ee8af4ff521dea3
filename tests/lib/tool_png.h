/* For the image-making tools (tests/tools/tool_mk*.c); defined in harness.c. */
#ifndef TESTS_TOOL_PNG_H
#define TESTS_TOOL_PNG_H

#include "darknet.h"

/* Saves IM as DIR/<i>_<name>.png with Darknet's own writer, prints that path on stdout and
 * frees IM. Returns 0, with a message, when the path is too long for Darknet's 256-byte
 * name buffer. */
int tool_save_png(image im, const char *dir, int i, const char *name);

#endif
