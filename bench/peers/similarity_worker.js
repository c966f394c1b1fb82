'use strict';
// The similarity service's task in JavaScript, for bench/similarity.sh: the
// same algorithm as examples/similarity (tokenise, TF-IDF against the same
// built-in background corpus, cosine, best first), run by Piscina.
const corpusTexts = [
  'The quick brown fox jumps over the lazy dog.',
  'A supervisor keeps worker processes alive and restarts the ones that crash.',
  'The event loop must stay responsive while CPU heavy work runs elsewhere.',
  'Shared memory lets processes exchange data without copying it through a socket.',
  'The weather today is sunny with a light breeze from the west.',
  'Cooking pasta takes boiling water, salt and a few minutes of patience.',
  'A database index speeds up queries at the cost of slower writes.',
  'The train to the city leaves every hour from the main station.',
  'Music and art are part of the culture of every people in the world.',
  'The cat sat on the mat and looked out of the window at the birds.',
  'Search engines rank documents by how well they match the words of a query.',
  'A good night of sleep helps the body and the mind recover.',
  'The team won the match after a long and difficult season.',
  'Interest rates and inflation shape the price of a house.',
  'The library lends books, music and films to anyone with a card.',
  'Gardening in spring means planting seeds and watering them every day.',
];

const tokenize = (text) => (text.toLowerCase().match(/[a-z0-9]+/g) || []);

// Built once per worker thread, as the C++ service's compute hook does.
const documentFrequency = new Map();
for (const text of corpusTexts) {
  for (const term of new Set(tokenize(text))) documentFrequency.set(term, (documentFrequency.get(term) || 0) + 1);
}
const idf = (term) => Math.log((corpusTexts.length + 1) / ((documentFrequency.get(term) || 0) + 1)) + 1;

const tfidf = (text) => {
  const tokens = tokenize(text);
  const vector = new Map();
  for (const t of tokens) vector.set(t, (vector.get(t) || 0) + 1);
  for (const [t, count] of vector) vector.set(t, (count / tokens.length) * idf(t));
  return vector;
};

const cosine = (a, b) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (const [t, w] of a) {
    na += w * w;
    const other = b.get(t);
    if (other !== undefined) dot += w * other;
  }
  for (const w of b.values()) nb += w * w;
  return na === 0 || nb === 0 ? 0 : dot / (Math.sqrt(na) * Math.sqrt(nb));
};

module.exports = (input) => {
  let request;
  try {
    request = JSON.parse(Buffer.from(input).toString('utf8'));
  } catch (e) {
    return { status: 400, type: 'text/plain', body: `${e.message}\n` };
  }
  if (typeof request.query !== 'string' || !Array.isArray(request.documents) || request.documents.length === 0) {
    return { status: 400, type: 'text/plain', body: 'malformed request\n' };
  }
  const q = tfidf(request.query);
  const scored = request.documents.map((d, index) => {
    const text = typeof d === 'string' ? d : d.text;
    const result = { index, score: cosine(q, tfidf(text)) };
    if (typeof d === 'object' && d.id !== undefined) result.id = d.id;
    return result;
  });
  scored.sort((x, y) => y.score - x.score || x.index - y.index);
  return { status: 200, type: 'application/json', body: JSON.stringify({ results: scored }) + '\n' };
};
