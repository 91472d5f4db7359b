/** Split a rationale into sentences (on . ! ? followed by space or end). */
export function sentences(text: string): string[] {
  return text.split(/(?<=[.!?])\s+/).map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * True when a rationale writes a sentence twice, or loops: a span of 1 to `maxSpan` words repeated three times in
 * a row ("so so so", "it is it is it is"). Templated steps that share words ("The last letter of ...") do not count.
 */
export function isRepetitive(text: string, maxSpan = 6): boolean {
  const all = sentences(text);
  if (new Set(all).size < all.length) return true;
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  for (let span = 1; span <= maxSpan; span++) {
    for (let i = 0; i + 3 * span <= words.length; i++) {
      let loops = true;
      for (let j = 0; j < 2 * span && loops; j++) loops = words[i + j] === words[i + j + span];
      if (loops) return true;
    }
  }
  return false;
}

/** Share of rationales that are repetitive ({@link isRepetitive}) and their mean length in characters. */
export function rationaleQuality(rationales: string[]): { repetitionRate: number; meanLength: number } {
  if (rationales.length === 0) return { repetitionRate: 0, meanLength: 0 };
  return {
    repetitionRate: rationales.filter((r) => isRepetitive(r)).length / rationales.length,
    meanLength: rationales.reduce((sum, r) => sum + r.length, 0) / rationales.length,
  };
}
