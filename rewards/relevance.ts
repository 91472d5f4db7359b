/**
 * `relevance`: how much the rationale is about its question and context: the cosine between TF-IDF vectors of
 * the rationale and of the question (+ context, + choices), over stemmed content words. IDF comes from the
 * sources of the whole batch (natural's TfIdf), so words every question shares weigh less than the ones that
 * make a question distinct. In [0, 1].
 */
import { defineReward } from '../lib/reward/define';
import { bagOf, contentWords, cosine, natural, sourceText } from './text';

export default defineReward({
  name: 'relevance',
  description: 'TF-IDF cosine between the rationale and the question with its context',
  async score(batch) {
    const sources = batch.map((x) => contentWords(sourceText(x.example)));
    const idf = new (natural().TfIdf)();
    for (const terms of sources) idf.addDocument(terms);
    const weigh = (terms: string[]) => {
      const vector = bagOf(terms);
      for (const [term, count] of vector) vector.set(term, count * idf.idf(term));
      return vector;
    };
    return batch.map((x, i) => cosine(weigh(contentWords(x.rationale)), weigh(sources[i])));
  },
});
