/*
 * psp_pyscan.c - just enough of Python's tokenizer for the indentation rules.
 *
 * The manual's rule is that the indentation of the last line of a code block
 * persists, and that a last line ending in ':' opens a block.  Taken
 * literally, the continuation line of a call split over two lines, or a
 * ':' inside a string or a comment, would set the indentation.  So the
 * generator asks this scanner which physical lines begin logical lines
 * (outside brackets, strings and backslash continuations), where comments
 * are, and what the last significant character of the last logical line is.
 *
 * It is deliberately tolerant: unterminated strings and brackets are left
 * for Python's compiler to report, with the page's line number.
 */
#include "psp_parser.h"

#include <stdlib.h>
#include <string.h>

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\v';
}

int
psp_pyscan(const char *s, size_t n, psp_pyinfo *info)
{
    size_t i, nlines = 1, line = 0;
    long current_start = 0; /* line where the current logical line began */
    int depth = 0, continued = 0;
    char quote = 0;         /* the quote of the string we are in, or 0 */
    int triple = 0;
    int string_continues = 0; /* a backslash ends this line inside a string */

    memset(info, 0, sizeof(*info));
    info->last_logical = -1;
    for (i = 0; i < n; i++)
        if (s[i] == '\n')
            nlines++;
    info->lines = calloc(nlines, sizeof(psp_pyline));
    if (info->lines == NULL)
        return -1;
    info->nlines = nlines;
    info->lines[0].logical_start = 1;

    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c == '\n') {
            if (quote && !triple && !string_continues)
                quote = 0; /* unterminated: Python will say so */
            string_continues = 0;
            line++;
            info->lines[line].in_string = quote != 0;
            info->lines[line].logical_start = !quote && depth == 0 && !continued;
            if (info->lines[line].logical_start)
                current_start = (long)line;
            continued = 0;
            continue;
        }
        if (quote) {
            if (c == '\\') {
                if (i + 1 < n && s[i + 1] == '\n')
                    string_continues = 1;
                else
                    i++; /* an escaped character, perhaps the quote */
            }
            else if (c == quote) {
                if (!triple)
                    quote = 0;
                else if (i + 2 < n && s[i + 1] == quote && s[i + 2] == quote) {
                    quote = 0;
                    i += 2;
                }
            }
            continue;
        }
        if (c == '#') {
            info->lines[line].has_comment = 1;
            if (info->last_logical != current_start) {
                info->last_logical = current_start; /* a comment line counts */
                info->last_logical_end = 0;
            }
            while (i + 1 < n && s[i + 1] != '\n')
                i++;
            continue;
        }
        if (is_space(c))
            continue;
        if (c == '\\' && i + 1 < n && s[i + 1] == '\n') {
            continued = 1;
            continue;
        }
        info->has_code = 1;
        info->last_logical = current_start;
        info->last_logical_end = c;
        if (c == '\'' || c == '"') {
            quote = c;
            triple = i + 2 < n && s[i + 1] == c && s[i + 2] == c;
            if (triple)
                i += 2;
        }
        else if (c == '(' || c == '[' || c == '{')
            depth++;
        else if ((c == ')' || c == ']' || c == '}') && depth > 0)
            depth--;
    }
    info->open_at_end = quote != 0 || depth > 0 || (n > 0 && s[n - 1] == '\\');
    return 0;
}

void
psp_pyinfo_free(psp_pyinfo *info)
{
    free(info->lines);
    info->lines = NULL;
    info->nlines = 0;
}
