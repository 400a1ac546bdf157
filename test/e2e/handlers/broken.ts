// A handler module that cannot be loaded: workers report BadConfiguration.
export {};
throw new Error("missing dependency on purpose");
