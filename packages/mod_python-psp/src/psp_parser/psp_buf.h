/*
 * psp_buf.h - a growable byte buffer for the PSP parser.
 *
 * The parser runs without the GIL, so it allocates with malloc() rather than
 * the Python allocators.  Growing never fails silently: every function that
 * allocates returns -1 when memory runs out and leaves the buffer as it was.
 */
#ifndef PSP_BUF_H
#define PSP_BUF_H

#include <stddef.h>

typedef struct psp_buf {
    char *data; /* NUL-terminated once anything was appended; NULL before */
    size_t len;
    size_t cap;
} psp_buf;

int psp_buf_reserve(psp_buf *b, size_t extra);
int psp_buf_append(psp_buf *b, const char *s, size_t n);
int psp_buf_puts(psp_buf *b, const char *s);
int psp_buf_putc(psp_buf *b, char c);
int psp_buf_set(psp_buf *b, const char *s, size_t n);
int psp_buf_insert(psp_buf *b, size_t pos, const char *s, size_t n);
void psp_buf_erase(psp_buf *b, size_t pos, size_t n);
void psp_buf_clear(psp_buf *b);
void psp_buf_free(psp_buf *b);

#endif /* PSP_BUF_H */
