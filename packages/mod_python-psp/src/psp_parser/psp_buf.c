/* psp_buf.c - the growable byte buffer of psp_buf.h. */
#include "psp_buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
psp_buf_reserve(psp_buf *b, size_t extra)
{
    size_t need, cap;
    char *data;

    if (extra > SIZE_MAX - b->len - 1)
        return -1;
    need = b->len + extra + 1; /* + the terminating NUL */
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    data = realloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

int
psp_buf_append(psp_buf *b, const char *s, size_t n)
{
    if (psp_buf_reserve(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
psp_buf_puts(psp_buf *b, const char *s)
{
    return psp_buf_append(b, s, strlen(s));
}

int
psp_buf_putc(psp_buf *b, char c)
{
    return psp_buf_append(b, &c, 1);
}

int
psp_buf_set(psp_buf *b, const char *s, size_t n)
{
    psp_buf_clear(b);
    return psp_buf_append(b, s, n);
}

int
psp_buf_insert(psp_buf *b, size_t pos, const char *s, size_t n)
{
    if (pos > b->len || psp_buf_reserve(b, n) < 0)
        return -1;
    memmove(b->data + pos + n, b->data + pos, b->len - pos + 1);
    memcpy(b->data + pos, s, n);
    b->len += n;
    return 0;
}

void
psp_buf_erase(psp_buf *b, size_t pos, size_t n)
{
    if (pos >= b->len)
        return;
    if (n > b->len - pos)
        n = b->len - pos;
    memmove(b->data + pos, b->data + pos + n, b->len - pos - n + 1);
    b->len -= n;
}

void
psp_buf_clear(psp_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void
psp_buf_free(psp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
