// Types of markdown.js for the unit tests (the browser loads the .js as is).
export function escapeHtml(s: string): string;
export function safeUrl(url: string, image: boolean): string | undefined;
export function renderMarkdown(source: string): string;
