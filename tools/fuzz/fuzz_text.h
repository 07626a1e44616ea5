/* libFuzzer hands over bytes; the parsers take NUL-terminated text. */
#ifndef ZS_FUZZ_TEXT_H
#define ZS_FUZZ_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'ed NUL-terminated copy of data[0..size), or NULL when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

#endif
