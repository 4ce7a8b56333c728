/* csv.h - RFC 4180 cells for the exports (api/exports.c): CRLF rows, a field quoted when it holds a
 * comma, a quote, CR or LF (quotes doubled), and -- against spreadsheet formula injection (OWASP
 * "CSV Injection") -- a field beginning with = + - @ TAB or CR prefixed with a single quote. */
#ifndef KW_API_CSV_H
#define KW_API_CSV_H

#include <stddef.h>

/* The most bytes kw_csv_cell writes for a value of len bytes (prefix, quotes, every quote doubled). */
#define KW_CSV_CELL_MAX(len) (2 * (len) + 3)

/* Writes the encoded cell for s[0..len) at out (at least KW_CSV_CELL_MAX(len) bytes; no NUL) and
 * returns the bytes written. */
size_t kw_csv_cell(char *out, const char *s, size_t len);

#endif
