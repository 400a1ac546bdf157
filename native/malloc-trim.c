// An optional Node-API addon for the operator (src/operator/malloc-trim.ts): `trim()` calls glibc's
// malloc_trim(0), which gives the free pages inside malloc's heap back to the kernel. glibc itself
// only ever returns the top of the heap, so after a burst the operator's native heap (TLS and HTTP
// buffers, V8's compiler zones) stays resident as free memory. Built by `npm run build:native`
// (hack/build-native.ts) and in the image (Dockerfile); without it the operator runs as before.
#include <malloc.h>
#include <node_api.h>
static napi_value Trim(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_get_boolean(env, malloc_trim(0) != 0, &out);
  return out;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "trim", NAPI_AUTO_LENGTH, Trim, NULL, &fn);
  napi_set_named_property(env, exports, "trim", fn);
  return exports;
}
