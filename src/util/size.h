/* Parsing of human sizes ("256M", "2G") and counts from command-line strings. */
#ifndef AZOTE_UTIL_SIZE_H
#define AZOTE_UTIL_SIZE_H

#include <stdint.h>

/* Parse "N", "NK", "NM", "NG", "NT" (binary units, optional "iB"/"B"; no suffix means MiB)
 * into bytes. Returns 0, or -EINVAL for malformed text and -ERANGE on overflow. */
__attribute__((warn_unused_result)) int size_parse(const char *text, uint64_t *bytes);

/* Parse a decimal unsigned integer in [min, max]. Returns 0, -EINVAL or -ERANGE. */
__attribute__((warn_unused_result)) int uint_parse(const char *text, uint64_t min, uint64_t max,
						   uint64_t *out);

#endif
