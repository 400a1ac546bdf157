// Preloaded (NODE_OPTIONS --import) into a worker's processes by `bench/invoke.ts --profile`: a
// supervisor stops its child with SIGTERM, which would end it before --cpu-prof writes the
// child's profile; here SIGTERM exits normally instead, so the profile is written. Bench only.
process.once("SIGTERM", () => process.exit(0));
