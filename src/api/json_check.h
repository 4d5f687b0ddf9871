/* Strict reading of request bodies: every field known, of the right type, required ones present.
 * Messages follow the wording Firecracker's clients see (serde's): "unknown field `x`, expected
 * one of `a`, `b`", "missing field `x`", "invalid type: ..., expected ...". */
#ifndef AZOTE_API_JSON_CHECK_H
#define AZOTE_API_JSON_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_field_type {
	JF_STRING,
	JF_BOOL,
	JF_U32,
	JF_OBJECT, /* any object, or null */
};

struct json_field {
	const char *name;
	enum json_field_type type;
	bool required;
};

/* Parse body (len bytes) as one JSON object. NULL with err set when it is not. */
json_t *json_check_parse(const char *body, size_t len, char *err, size_t errlen);

/* Check obj against the n fields. 0, or -1 with err set. A null value counts as absent for
 * fields that are not required (Firecracker's optional fields accept null). */
int json_check_fields(const json_t *obj, const struct json_field *fields, size_t n, char *err,
		      size_t errlen);

/* Field accessors after json_check_fields: the value, or dflt when absent or null. */
const char *json_str(const json_t *obj, const char *name, const char *dflt);
bool json_bool(const json_t *obj, const char *name, bool dflt);
uint32_t json_u32(const json_t *obj, const char *name, uint32_t dflt);
bool json_has(const json_t *obj, const char *name);

#endif
