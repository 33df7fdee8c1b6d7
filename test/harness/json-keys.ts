// Finds duplicate keys in a JSON text. JSON.parse keeps the last of two equal keys without a
// word, so tests that must prove a log line has unique keys scan the raw text instead.

/** The keys that occur more than once in the same object of `json` (a valid JSON text). */
export function duplicateKeys(json: string): string[] {
  const dups: string[] = [];
  const stack: Array<Set<string> | null> = []; // null: an array level
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack.at(-1) instanceof Set;
    } else if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const keys = stack.at(-1);
      if (expectKey && keys) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (keys.has(key)) dups.push(key);
        keys.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
  return dups;
}
