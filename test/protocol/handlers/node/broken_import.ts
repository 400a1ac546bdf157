// Raises while being imported: the runtime must report BadConfiguration (exit 2).
export {};
throw new Error("broken on purpose");
