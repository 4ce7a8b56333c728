/* csv.c - RFC 4180 cells with formula-injection prefixing; see csv.h. */
#include "api/csv.h"

#include <string.h>

size_t kw_csv_cell(char *out, const char *s, size_t len)
{
    int formula = len > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' ||
                              s[0] == '\r');
    int quote = 0;
    size_t i, o = 0;

    for (i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (quote)
        out[o++] = '"';
    if (formula)
        out[o++] = '\'';
    for (i = 0; i < len; i++) {
        if (s[i] == '"')
            out[o++] = '"';
        out[o++] = s[i];
    }
    if (quote)
        out[o++] = '"';
    return o;
}
