#include "api/json_check.h"

#include <stdio.h>
#include <string.h>

json_t *json_check_parse(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t e;
	json_t *root;

	if (len == 0) {
		snprintf(err, errlen, "the request needs a JSON body");
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (!root) {
		snprintf(err, errlen, "malformed JSON at line %d column %d: %s", e.line, e.column,
			 e.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "invalid type: expected a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "map";
	case JSON_ARRAY: return "sequence";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "floating point";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static int json_check_one(const json_t *v, const struct json_field *f, char *err, size_t errlen)
{
	static const char *const expected[] = {
	    [JF_STRING] = "a string", [JF_BOOL] = "a boolean",
	    [JF_U32] = "an unsigned 32-bit integer", [JF_OBJECT] = "an object"};
	bool ok;

	switch (f->type) {
	case JF_STRING: ok = json_is_string(v); break;
	case JF_BOOL: ok = json_is_boolean(v); break;
	case JF_U32:
		ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
		     json_integer_value(v) <= UINT32_MAX;
		break;
	default: ok = json_is_object(v); break;
	}
	if (ok)
		return 0;
	if (json_is_integer(v))
		snprintf(err, errlen, "invalid value for `%s`: integer `%lld`, expected %s", f->name,
			 (long long)json_integer_value(v), expected[f->type]);
	else
		snprintf(err, errlen, "invalid type for `%s`: %s, expected %s", f->name, json_kind(v),
			 expected[f->type]);
	return -1;
}

int json_check_fields(const json_t *obj, const struct json_field *fields, size_t n, char *err,
		      size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		size_t i;

		for (i = 0; i < n && strcmp(fields[i].name, key); i++)
			;
		if (i == n) {
			int len = snprintf(err, errlen, "unknown field `%s`, expected one of", key);

			for (size_t j = 0; j < n && len > 0 && (size_t)len < errlen; j++)
				len += snprintf(err + len, errlen - (size_t)len, "%s `%s`",
						j ? "," : "", fields[j].name);
			return -1;
		}
		if (json_is_null(v) && !fields[i].required)
			continue;
		if (json_check_one(v, &fields[i], err, errlen))
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(obj, fields[i].name);
		if (fields[i].required && (!v || json_is_null(v))) {
			snprintf(err, errlen, "missing field `%s`", fields[i].name);
			return -1;
		}
	}
	return 0;
}

bool json_has(const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);

	return v && !json_is_null(v);
}

const char *json_str(const json_t *obj, const char *name, const char *dflt)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

bool json_bool(const json_t *obj, const char *name, bool dflt)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

uint32_t json_u32(const json_t *obj, const char *name, uint32_t dflt)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_integer(v) ? (uint32_t)json_integer_value(v) : dflt;
}
