// Thin shim over jansson: wrappers for the macros Swift cannot import.
#ifndef SCORESERVE_CJANSSON_SHIM_H
#define SCORESERVE_CJANSSON_SHIM_H
#include <jansson.h>

static inline int sj_typeof(const json_t *json) { return (int)json_typeof(json); }
static inline int sj_is_object(const json_t *json) { return json_is_object(json); }
static inline int sj_is_array(const json_t *json) { return json_is_array(json); }
static inline int sj_is_string(const json_t *json) { return json_is_string(json); }
static inline int sj_is_integer(const json_t *json) { return json_is_integer(json); }
static inline int sj_is_real(const json_t *json) { return json_is_real(json); }
static inline int sj_is_number(const json_t *json) { return json_is_number(json); }
static inline int sj_is_boolean(const json_t *json) { return json_is_boolean(json); }
static inline int sj_is_true(const json_t *json) { return json_is_true(json); }
static inline int sj_is_null(const json_t *json) { return json_is_null(json); }

/// `JSON_REAL_PRECISION(n)` as a function (the macro takes an argument).
static inline size_t sj_real_precision(int digits) { return JSON_REAL_PRECISION(digits); }
static inline size_t sj_reject_duplicates(void) { return JSON_REJECT_DUPLICATES; }
static inline size_t sj_decode_any(void) { return JSON_DECODE_ANY; }
static inline size_t sj_encode_any(void) { return JSON_ENCODE_ANY; }
static inline size_t sj_compact(void) { return JSON_COMPACT; }
static inline size_t sj_preserve_order(void) { return JSON_PRESERVE_ORDER; }

/// `json_decref` is a static inline with a macro-based refcount; keep one entry point.
static inline void sj_decref(json_t *json) { json_decref(json); }

/// Iterates an object's keys in insertion order (the iterator API is macro-free,
/// but keeping the walk here keeps C pointers out of Swift call sites).
static inline void *sj_object_iter(json_t *object) { return json_object_iter(object); }
#endif
