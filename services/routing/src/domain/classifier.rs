//! Text classifier for Kazakh and Russian appeals (reg 5.2 "determine the nature of the
//! issues"): multinomial logistic regression over TF-IDF features of the folded text —
//! character 3–5-grams inside words (they carry Kazakh and Russian morphology without a
//! stemmer), word unigrams and bigrams, sublinear term frequency, unit length — plus hits
//! of the taxonomy's keyword stems. A top-level model picks the category and its
//! probability is the confidence; a small model per category then picks the leaf.
//!
//! Training is deterministic (fixed seed, fixed order, weights quantised to 16 bits), so
//! the same corpus always gives byte for byte the same model. The service does not train
//! at start: `bakylau-routing train` writes the model to `data/model/classifier.bin`,
//! which is compiled in and loaded in milliseconds ([`Classifier::from_bytes`]).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::reference::{Category, top_level};
use super::text::words;

#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("corpus line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("the corpus is empty")]
    Empty,
}

/// One labelled text of the corpus.
#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    pub id: String,
    pub language: String,
    pub category: String,
    pub subcategory: Option<String>,
    pub text: String,
}

pub fn parse_corpus(jsonl: &str) -> Result<Vec<Example>, CorpusError> {
    let mut out = Vec::new();
    for (i, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: Example = serde_json::from_str(line).map_err(|e| CorpusError::Line {
            line: i + 1,
            message: e.to_string(),
        })?;
        if let Some(leaf) = &e.subcategory
            && top_level(leaf) != e.category
        {
            return Err(CorpusError::Line {
                line: i + 1,
                message: format!("subcategory {leaf} is not under {}", e.category),
            });
        }
        out.push(e);
    }
    if out.is_empty() {
        return Err(CorpusError::Empty);
    }
    Ok(out)
}

/// Training knobs. The defaults were chosen by 5-fold cross-validation on the training
/// part of the corpus only (`bakylau-routing evaluate --cv 5`), never on the held-out split.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 penalty (applied to the weights a text touches); keeps probabilities from
    /// saturating, so the confidence means something.
    pub l2: f32,
    /// Value of one keyword hit next to the unit-length text features.
    pub keyword_weight: f32,
    /// Length of the word block next to the unit-length character block (0: one block).
    pub word_weight: f32,
    /// Character n-gram lengths inside words.
    pub char_min: usize,
    pub char_max: usize,
    /// Terms seen in fewer training texts are dropped (keeps the model small).
    pub min_df: u32,
    /// Train the top-level model over the leaves (a text about a category in general is its
    /// own label) and add their probabilities up per category: categories such as
    /// `housing_utilities` are unions of unlike topics, which one linear score fits badly.
    pub top_on_leaves: bool,
    /// Average the weights of the epochs in the second half of training (less noise from
    /// the last updates of plain SGD).
    pub average: bool,
    /// Softmax temperature of the top-level model at prediction time (> 1 softens): set so
    /// that the confidence matches the share of right answers under cross-validation.
    pub temperature: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 40,
            learning_rate: 2.0,
            l2: 2e-3,
            keyword_weight: 0.2,
            word_weight: 0.0,
            char_min: 3,
            char_max: 5,
            min_df: 1,
            top_on_leaves: false,
            average: false,
            temperature: 0.5,
            seed: 0x5eed_ba4a_1a00,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a routing classifier model (bad magic or version)")]
    Format,
    #[error("the model file is truncated or corrupt at byte {0}")]
    Corrupt(usize),
}

/// What the classifier says about a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Top-level category.
    pub category: String,
    /// Leaf within it, when the leaf model is sure enough.
    pub leaf: Option<String>,
    /// Probability of `category` (0..1).
    pub confidence: f64,
    /// Top-level categories by probability, best first.
    pub candidates: Vec<(String, f64)>,
}

impl Prediction {
    /// The most specific code predicted: the leaf if any, else the category.
    pub fn code(&self) -> &str {
        self.leaf.as_deref().unwrap_or(&self.category)
    }
}

/// FNV-1a, stable across platforms and releases (`std`'s hasher is not), over a kind byte
/// and the UTF-8 of the term.
struct Fnv(u64);

impl Fnv {
    fn new(kind: u8) -> Self {
        let mut h = Self(0xcbf2_9ce4_8422_2325);
        h.byte(kind);
        h
    }
    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
    fn str(mut self, s: &str) -> u64 {
        s.bytes().for_each(|b| self.byte(b));
        self.0
    }
    fn chars(mut self, cs: &[char]) -> u64 {
        let mut buf = [0u8; 4];
        for c in cs {
            c.encode_utf8(&mut buf).bytes().for_each(|b| self.byte(b));
        }
        self.0
    }
}

const KIND_WORD: u8 = b'w';
const KIND_BIGRAM: u8 = b'b';
const KIND_CHAR: u8 = b'c';
const KIND_KEYWORD_TOP: u8 = b'k';
const KIND_KEYWORD_LEAF: u8 = b'l';

/// Keyword stems of the taxonomy: a stem matches a word starting with it; phrases match as
/// consecutive words (taxonomy.toml's format note).
#[derive(Debug, Clone, Default, PartialEq)]
struct Keywords {
    /// (folded words of the keyword, top-level code, leaf code)
    entries: Vec<(Vec<String>, String, String)>,
}

impl Keywords {
    fn new(categories: &[Category]) -> Self {
        let mut entries = Vec::new();
        for c in categories.iter().filter(|c| c.active && c.parent.is_some()) {
            for k in c.keywords_kk.iter().chain(&c.keywords_ru) {
                let w = words(k);
                if !w.is_empty() {
                    entries.push((w, c.top_level().to_owned(), c.code.clone()));
                }
            }
        }
        Self { entries }
    }

    fn hits<'a>(&'a self, text_words: &[String]) -> Vec<(&'a str, &'a str)> {
        let mut out = Vec::new();
        for (kw, top, leaf) in &self.entries {
            let n = kw.len();
            if n == 0 || text_words.len() < n {
                continue;
            }
            let found = (0..=text_words.len() - n).any(|i| {
                kw.iter().enumerate().all(|(j, k)| {
                    let w = &text_words[i + j];
                    // Every word but the last must be whole; the last is a stem.
                    if j + 1 == n {
                        w.starts_with(k.as_str())
                    } else {
                        w == k
                    }
                })
            });
            if found {
                out.push((top.as_str(), leaf.as_str()));
            }
        }
        out
    }

    /// Feature hashes of every keyword label, so they are in the vocabulary whatever the
    /// training texts hit.
    fn feature_hashes(&self) -> Vec<u64> {
        self.entries
            .iter()
            .flat_map(|(_, top, leaf)| {
                [
                    Fnv::new(KIND_KEYWORD_TOP).str(top),
                    Fnv::new(KIND_KEYWORD_LEAF).str(leaf),
                ]
            })
            .collect()
    }
}

/// Hashes of the text terms, once per occurrence: word unigrams and bigrams, and character
/// n-grams of each word padded with a space at both ends.
fn terms(ws: &[String], char_min: usize, char_max: usize) -> Vec<u64> {
    let (mut out, chars) = term_blocks(ws, char_min, char_max);
    out.extend(chars);
    out
}

/// [`terms`] in two blocks: (word unigrams and bigrams, character n-grams).
fn term_blocks(ws: &[String], char_min: usize, char_max: usize) -> (Vec<u64>, Vec<u64>) {
    let mut words_out = Vec::new();
    let mut out = Vec::new();
    let mut padded: Vec<char> = Vec::new();
    for w in ws {
        words_out.push(Fnv::new(KIND_WORD).str(w));
        padded.clear();
        padded.push(' ');
        padded.extend(w.chars());
        padded.push(' ');
        for n in char_min..=char_max.min(padded.len()) {
            for g in padded.windows(n) {
                out.push(Fnv::new(KIND_CHAR).chars(g));
            }
        }
    }
    for pair in ws.windows(2) {
        let mut h = Fnv::new(KIND_BIGRAM);
        pair[0].bytes().for_each(|b| h.byte(b));
        h.byte(b' ');
        words_out.push(h.str(&pair[1]));
    }
    (words_out, out)
}

/// The feature space: a vocabulary of term hashes (sorted) with their IDF weights.
#[derive(Debug, Clone, PartialEq)]
struct Vocabulary {
    hashes: Vec<u64>,
    idf: Vec<f32>,
    char_min: usize,
    char_max: usize,
    keyword_weight: f32,
    /// 0: one unit-length vector over all terms. Otherwise the character n-grams and the
    /// words are each brought to unit length, and the words scaled by this.
    word_weight: f32,
    keywords: Keywords,
}

impl Vocabulary {
    fn build(texts: &[&str], keywords: Keywords, opts: &TrainOptions) -> Self {
        let char_min = opts.char_min.max(1);
        let char_max = opts.char_max.max(char_min);
        let mut df: HashMap<u64, u32> = HashMap::new();
        for t in texts {
            let mut ts = terms(&words(t), char_min, char_max);
            ts.sort_unstable();
            ts.dedup();
            for h in ts {
                *df.entry(h).or_default() += 1;
            }
        }
        let n = texts.len() as f32;
        let mut entries: Vec<(u64, f32)> = df
            .into_iter()
            .filter(|(_, d)| *d >= opts.min_df.max(1))
            .map(|(h, d)| (h, ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0))
            .collect();
        // Keyword features are not IDF-weighted (they are added after normalisation).
        entries.extend(keywords.feature_hashes().into_iter().map(|h| (h, 1.0)));
        entries.sort_unstable_by_key(|(h, _)| *h);
        entries.dedup_by_key(|(h, _)| *h);
        Self {
            hashes: entries.iter().map(|(h, _)| *h).collect(),
            idf: entries.iter().map(|(_, v)| *v).collect(),
            char_min,
            char_max,
            keyword_weight: opts.keyword_weight,
            word_weight: opts.word_weight,
            keywords,
        }
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }

    fn index(&self, h: u64) -> Option<usize> {
        self.hashes.binary_search(&h).ok()
    }

    /// Sublinear TF × IDF of the terms known to the vocabulary, at length `length`.
    fn tf_idf(&self, terms: Vec<u64>, length: f32) -> Vec<(u32, f32)> {
        let mut idx: Vec<usize> = terms.into_iter().filter_map(|h| self.index(h)).collect();
        idx.sort_unstable();
        let mut out: Vec<(u32, f32)> = Vec::new();
        let mut i = 0;
        while i < idx.len() {
            let j = idx[i..].iter().take_while(|&&x| x == idx[i]).count();
            let tf = 1.0 + (j as f32).ln();
            out.push((idx[i] as u32, tf * self.idf[idx[i]]));
            i += j;
        }
        let norm = out.iter().map(|(_, v)| v * v).sum::<f32>().sqrt().max(1e-6);
        out.iter_mut().for_each(|(_, v)| *v *= length / norm);
        out
    }

    /// Sparse vector, sorted by index: sublinear TF × IDF at unit length, plus keyword hits.
    fn vectorize(&self, text: &str) -> Vec<(u32, f32)> {
        let ws = words(text);
        let mut out = if self.word_weight > 0.0 {
            let (word_terms, char_terms) = term_blocks(&ws, self.char_min, self.char_max);
            let mut v = self.tf_idf(word_terms, self.word_weight);
            v.extend(self.tf_idf(char_terms, 1.0));
            v
        } else {
            self.tf_idf(terms(&ws, self.char_min, self.char_max), 1.0)
        };
        for (top, leaf) in self.keywords.hits(&ws) {
            for h in [
                Fnv::new(KIND_KEYWORD_TOP).str(top),
                Fnv::new(KIND_KEYWORD_LEAF).str(leaf),
            ] {
                if let Some(f) = self.index(h) {
                    out.push((f as u32, self.keyword_weight));
                }
            }
        }
        out.sort_unstable_by_key(|(f, _)| *f);
        let mut merged: Vec<(u32, f32)> = Vec::with_capacity(out.len());
        for (f, v) in out {
            match merged.last_mut() {
                Some((lf, lv)) if *lf == f => *lv += v,
                _ => merged.push((f, v)),
            }
        }
        merged
    }
}

/// Multinomial logistic regression, trained dense and then kept as 16-bit quantised rows
/// for the features that have a weight, so a saved model is exactly the trained one.
#[derive(Debug, Clone, PartialEq)]
struct LinearModel {
    labels: Vec<String>,
    /// Features with a non-zero weight, ascending: a leaf model touches only the features
    /// of its category's texts, so keeping only these rows saves most of the memory.
    rows: Vec<u32>,
    /// Row-major quantised weights (`weights[r * labels + l]` for feature `rows[r]`),
    /// each times `scale`.
    weights: Vec<i16>,
    bias: Vec<f32>,
    /// Quantisation step: every weight is an integer multiple of it.
    scale: f32,
}

impl LinearModel {
    fn train(
        docs: &[(&[(u32, f32)], usize)],
        features: usize,
        labels: Vec<String>,
        opts: &TrainOptions,
    ) -> Self {
        let nl = labels.len();
        let mut weights = vec![0.0f32; features * nl];
        let mut bias = vec![0.0f32; nl];
        let mut order: Vec<usize> = (0..docs.len()).collect();
        let mut rng = opts.seed;
        let mut scores = vec![0.0f32; nl];
        let mut sum_w: Vec<f32> = Vec::new();
        let mut sum_b = vec![0.0f32; nl];
        let mut averaged = 0u32;
        if nl > 1 {
            for epoch in 0..opts.epochs {
                shuffle(&mut order, &mut rng);
                let lr = opts.learning_rate / (1.0 + epoch as f32 * 0.1);
                let decay = 1.0 - lr * opts.l2;
                for &d in &order {
                    let (x, y) = docs[d];
                    scores.copy_from_slice(&bias);
                    for &(f, v) in x {
                        let f = f as usize;
                        for (s, w) in scores.iter_mut().zip(&weights[f * nl..(f + 1) * nl]) {
                            *s += w * v;
                        }
                    }
                    softmax(&mut scores);
                    // scores now hold probabilities; gradient = p - 1[y].
                    scores[y] -= 1.0;
                    for &(f, v) in x {
                        let f = f as usize;
                        for (w, g) in weights[f * nl..(f + 1) * nl].iter_mut().zip(&scores) {
                            *w = *w * decay - lr * g * v;
                        }
                    }
                    for (b, g) in bias.iter_mut().zip(&scores) {
                        *b -= lr * 0.1 * g;
                    }
                }
                if opts.average && 2 * (epoch + 1) > opts.epochs {
                    if sum_w.is_empty() {
                        sum_w = vec![0.0; weights.len()];
                    }
                    sum_w.iter_mut().zip(&weights).for_each(|(s, w)| *s += w);
                    sum_b.iter_mut().zip(&bias).for_each(|(s, b)| *s += b);
                    averaged += 1;
                }
            }
        }
        if averaged > 0 {
            let n = averaged as f32;
            weights = sum_w.into_iter().map(|s| s / n).collect();
            bias = sum_b.into_iter().map(|s| s / n).collect();
        }
        let max = weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        let quantised: Vec<i16> = weights.iter().map(|w| (w / scale).round() as i16).collect();
        let mut rows = Vec::new();
        let mut kept = Vec::new();
        for (f, row) in quantised.chunks(nl.max(1)).enumerate() {
            if row.iter().any(|q| *q != 0) {
                rows.push(f as u32);
                kept.extend_from_slice(row);
            }
        }
        Self {
            labels,
            rows,
            weights: kept,
            bias,
            scale,
        }
    }

    fn row(&self, feature: u32) -> Option<&[i16]> {
        let nl = self.labels.len();
        let r = self.rows.binary_search(&feature).ok()?;
        self.weights.get(r * nl..(r + 1) * nl)
    }

    fn probabilities(&self, x: &[(u32, f32)], temperature: f32) -> Vec<f32> {
        let nl = self.labels.len();
        let mut scores = self.bias.clone();
        debug_assert_eq!(scores.len(), nl);
        for &(f, v) in x {
            if let Some(row) = self.row(f) {
                let v = v * self.scale;
                for (s, q) in scores.iter_mut().zip(row) {
                    *s += f32::from(*q) * v;
                }
            }
        }
        let t = if temperature > 0.0 { temperature } else { 1.0 };
        scores.iter_mut().for_each(|s| *s /= t);
        softmax(&mut scores);
        scores
    }
}

fn softmax(s: &mut [f32]) {
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in s.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in s.iter_mut() {
        *x /= sum;
    }
}

/// Fisher–Yates with xorshift64*: the same seed gives the same order on every platform.
fn shuffle(v: &mut [usize], state: &mut u64) {
    for i in (1..v.len()).rev() {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        v.swap(i, (r % (i as u64 + 1)) as usize);
    }
}

/// The trained classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    name: String,
    vocabulary: Vocabulary,
    top: LinearModel,
    /// Per top-level category: a model over its leaves (absent when it has fewer than two).
    leaves: BTreeMap<String, LinearModel>,
    /// Leaf probability under which only the top-level category is given.
    pub leaf_threshold: f64,
    /// Softmax temperature of the top-level model ([`TrainOptions::temperature`]).
    temperature: f32,
}

impl Classifier {
    /// Trains on `examples`; categories give the keyword stems.
    pub fn train(examples: &[Example], categories: &[Category], opts: &TrainOptions) -> Self {
        let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
        let vocabulary = Vocabulary::build(&texts, Keywords::new(categories), opts);
        let feats: Vec<Vec<(u32, f32)>> = texts.iter().map(|t| vocabulary.vectorize(t)).collect();
        let top_label = |e: &Example| -> String {
            match &e.subcategory {
                Some(leaf) if opts.top_on_leaves => leaf.clone(),
                _ => e.category.clone(),
            }
        };
        let mut top_labels: Vec<String> = examples.iter().map(|e| e.category.clone()).collect();
        top_labels.sort();
        top_labels.dedup();
        let mut model_labels: Vec<String> = examples.iter().map(top_label).collect();
        model_labels.sort();
        model_labels.dedup();
        let top_data: Vec<(&[(u32, f32)], usize)> = examples
            .iter()
            .zip(&feats)
            .map(|(e, f)| {
                let y = model_labels.binary_search(&top_label(e)).unwrap_or(0);
                (f.as_slice(), y)
            })
            .collect();
        let top = LinearModel::train(&top_data, vocabulary.len(), model_labels, opts);
        let mut leaves = BTreeMap::new();
        for cat in &top_labels {
            let mut labels: Vec<String> = examples
                .iter()
                .filter(|e| &e.category == cat)
                .filter_map(|e| e.subcategory.clone())
                .collect();
            labels.sort();
            labels.dedup();
            if labels.len() < 2 {
                continue;
            }
            let data: Vec<(&[(u32, f32)], usize)> = examples
                .iter()
                .zip(&feats)
                .filter(|(e, _)| &e.category == cat)
                .filter_map(|(e, f)| {
                    let leaf = e.subcategory.as_ref()?;
                    Some((f.as_slice(), labels.binary_search(leaf).ok()?))
                })
                .collect();
            leaves.insert(
                cat.clone(),
                LinearModel::train(&data, vocabulary.len(), labels, opts),
            );
        }
        let mut digest = Sha256::new();
        digest.update(format!("{opts:?}").as_bytes());
        for e in examples {
            digest.update(e.id.as_bytes());
            digest.update(e.category.as_bytes());
            digest.update(e.subcategory.as_deref().unwrap_or("").as_bytes());
            digest.update(e.text.as_bytes());
        }
        for (w, top, leaf) in &vocabulary.keywords.entries {
            digest.update(w.join(" ").as_bytes());
            digest.update(top.as_bytes());
            digest.update(leaf.as_bytes());
        }
        let name = format!("logreg-v3-{}", &hex::encode(digest.finalize())[..8]);
        Self {
            name,
            vocabulary,
            top,
            leaves,
            leaf_threshold: 0.5,
            temperature: opts.temperature,
        }
    }

    /// Model name and version, as shown in `classified_by` (`classifier:<name>`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn classify(&self, text: &str) -> Prediction {
        let x = self.vocabulary.vectorize(text);
        let p = self.top.probabilities(&x, self.temperature);
        // The top model may be over leaves: add their probabilities up per category.
        let mut by_category: BTreeMap<&str, f64> = BTreeMap::new();
        for (label, v) in self.top.labels.iter().zip(&p) {
            *by_category.entry(top_level(label)).or_default() += f64::from(*v);
        }
        let mut candidates: Vec<(String, f64)> = by_category
            .into_iter()
            .map(|(c, v)| (c.to_owned(), v))
            .collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (category, confidence) = candidates
            .first()
            .cloned()
            .unwrap_or_else(|| ("other".to_owned(), 0.0));
        let leaf = self.leaves.get(&category).and_then(|m| {
            let lp = m.probabilities(&x, 1.0);
            let (i, best) = lp
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))?;
            (f64::from(*best) >= self.leaf_threshold).then(|| m.labels[i].clone())
        });
        Prediction {
            category,
            leaf,
            confidence,
            candidates,
        }
    }

    /// The model as a compact little-endian file (`data/model/classifier.bin`): the
    /// vocabulary with IDF, the keyword stems it was trained with, and the weights as
    /// 16-bit integers times a per-model step; rows that are all zero are left out.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.str(&self.name);
        w.f64(self.leaf_threshold);
        w.f32(self.temperature);
        let v = &self.vocabulary;
        w.u32(v.char_min as u32);
        w.u32(v.char_max as u32);
        w.f32(v.keyword_weight);
        w.f32(v.word_weight);
        w.u32(v.keywords.entries.len() as u32);
        for (words, top, leaf) in &v.keywords.entries {
            w.u32(words.len() as u32);
            words.iter().for_each(|s| w.str(s));
            w.str(top);
            w.str(leaf);
        }
        w.u32(v.len() as u32);
        for (h, idf) in v.hashes.iter().zip(&v.idf) {
            w.u64(*h);
            w.f32(*idf);
        }
        w.model(&self.top);
        w.u32(self.leaves.len() as u32);
        for (cat, m) in &self.leaves {
            w.str(cat);
            w.model(m);
        }
        w.0
    }

    /// Reads a model written by [`Classifier::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        if !bytes.starts_with(MAGIC) {
            return Err(ModelError::Format);
        }
        let mut r = Reader {
            bytes,
            at: MAGIC.len(),
        };
        let name = r.str()?;
        let leaf_threshold = r.f64()?;
        let temperature = r.f32()?;
        let char_min = r.u32()? as usize;
        let char_max = r.u32()? as usize;
        let keyword_weight = r.f32()?;
        let word_weight = r.f32()?;
        let mut entries = Vec::new();
        for _ in 0..r.u32()? {
            let n = r.u32()?;
            let words = (0..n).map(|_| r.str()).collect::<Result<Vec<_>, _>>()?;
            entries.push((words, r.str()?, r.str()?));
        }
        let n = r.u32()? as usize;
        let (mut hashes, mut idf) = (Vec::new(), Vec::new());
        for _ in 0..n {
            hashes.push(r.u64()?);
            idf.push(r.f32()?);
        }
        if !hashes.windows(2).all(|p| p[0] < p[1]) {
            return Err(ModelError::Corrupt(r.at));
        }
        let top = r.model(n)?;
        let mut leaves = BTreeMap::new();
        for _ in 0..r.u32()? {
            let cat = r.str()?;
            leaves.insert(cat, r.model(n)?);
        }
        if r.at != bytes.len() {
            return Err(ModelError::Corrupt(r.at));
        }
        Ok(Self {
            name,
            vocabulary: Vocabulary {
                hashes,
                idf,
                char_min,
                char_max,
                keyword_weight,
                word_weight,
                keywords: Keywords { entries },
            },
            top,
            leaves,
            leaf_threshold,
            temperature,
        })
    }
}

const MAGIC: &[u8] = b"BAKYLAU-ROUTING-CLASSIFIER-3\n";

struct Writer(Vec<u8>);

impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn model(&mut self, m: &LinearModel) {
        let nl = m.labels.len();
        self.u32(nl as u32);
        m.labels.iter().for_each(|l| self.str(l));
        m.bias.iter().for_each(|b| self.f32(*b));
        self.f32(m.scale);
        self.u32(m.rows.len() as u32);
        for (f, row) in m.rows.iter().zip(m.weights.chunks(nl.max(1))) {
            self.u32(*f);
            for q in row {
                self.0.extend_from_slice(&q.to_le_bytes());
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let b = self
            .bytes
            .get(self.at..self.at + N)
            .ok_or(ModelError::Corrupt(self.at))?;
        self.at += N;
        b.try_into().map_err(|_| ModelError::Corrupt(self.at))
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64, ModelError> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    fn str(&mut self) -> Result<String, ModelError> {
        let n = self.u32()? as usize;
        let b = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or(ModelError::Corrupt(self.at))?;
        let s = std::str::from_utf8(b).map_err(|_| ModelError::Corrupt(self.at))?;
        self.at += n;
        Ok(s.to_owned())
    }
    fn model(&mut self, features: usize) -> Result<LinearModel, ModelError> {
        let nl = self.u32()? as usize;
        if nl == 0 || nl > 10_000 {
            return Err(ModelError::Corrupt(self.at));
        }
        let labels = (0..nl).map(|_| self.str()).collect::<Result<Vec<_>, _>>()?;
        let bias = (0..nl).map(|_| self.f32()).collect::<Result<Vec<_>, _>>()?;
        let scale = self.f32()?;
        let (mut rows, mut weights) = (Vec::new(), Vec::new());
        for _ in 0..self.u32()? {
            let f = self.u32()?;
            // Rows are written ascending and only for features of the vocabulary.
            if f as usize >= features || rows.last().is_some_and(|last| *last >= f) {
                return Err(ModelError::Corrupt(self.at));
            }
            rows.push(f);
            for _ in 0..nl {
                weights.push(i16::from_le_bytes(self.take()?));
            }
        }
        Ok(LinearModel {
            labels,
            rows,
            weights,
            bias,
            scale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every term counts in a six-text corpus.
    fn toy() -> TrainOptions {
        TrainOptions {
            min_df: 1,
            ..TrainOptions::default()
        }
    }

    fn tiny() -> Vec<Example> {
        let mk = |id: &str, cat: &str, leaf: &str, text: &str| Example {
            id: id.into(),
            language: "ru".into(),
            category: cat.into(),
            subcategory: Some(leaf.into()),
            text: text.into(),
        };
        vec![
            mk(
                "1",
                "health",
                "health.ambulance",
                "скорая помощь не приехала вовремя",
            ),
            mk(
                "2",
                "health",
                "health.medicines",
                "нет лекарств в аптеке поликлиники",
            ),
            mk(
                "3",
                "education",
                "education.schools",
                "в школе нет учителя математики",
            ),
            mk(
                "4",
                "education",
                "education.kindergarten_queue",
                "очередь в детский сад не движется",
            ),
            mk("5", "health", "health.ambulance", "жедел жәрдем келмеді"),
            mk(
                "6",
                "education",
                "education.schools",
                "мектепте мұғалім жетіспейді",
            ),
        ]
    }

    #[test]
    fn learns_a_separable_toy_set_and_is_deterministic() {
        let a = Classifier::train(&tiny(), &[], &toy());
        let b = Classifier::train(&tiny(), &[], &toy());
        let p = a.classify("скорая помощь ехала два часа");
        assert_eq!(p.category, "health");
        assert!(p.confidence > 0.5);
        assert_eq!(p, b.classify("скорая помощь ехала два часа"));
        assert_eq!(a.name(), b.name());
        assert_eq!(a.classify("мектепте мұғалім жоқ").category, "education");
    }

    #[test]
    fn probabilities_sum_to_one() {
        let c = Classifier::train(&tiny(), &[], &toy());
        let p = c.classify("что-то совсем другое");
        let sum: f64 = p.candidates.iter().map(|(_, v)| v).sum();
        assert!((sum - 1.0).abs() < 1e-4);
        assert!(p.candidates.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn temperature_sharpens_without_changing_the_answer() {
        let soft = Classifier::train(&tiny(), &[], &toy());
        let sharp = Classifier::train(
            &tiny(),
            &[],
            &TrainOptions {
                temperature: 0.25,
                ..toy()
            },
        );
        let text = "скорая помощь ехала два часа";
        let (a, b) = (soft.classify(text), sharp.classify(text));
        assert_eq!(a.category, b.category);
        assert!(b.confidence > a.confidence, "{b:?} vs {a:?}");
    }

    #[test]
    fn a_top_model_over_leaves_answers_with_categories() {
        let opts = TrainOptions {
            top_on_leaves: true,
            ..toy()
        };
        let c = Classifier::train(&tiny(), &[], &opts);
        let p = c.classify("очередь в детский сад не движется");
        assert_eq!(p.category, "education");
        // Leaf probabilities are added up: one candidate per category, summing to one.
        assert_eq!(p.candidates.len(), 2);
        let sum: f64 = p.candidates.iter().map(|(_, v)| v).sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_saved_model_loads_back_identical() {
        let cat = Category {
            code: "health.ambulance".into(),
            parent: Some("health".into()),
            keywords_ru: vec!["скорая помощь".into()],
            active: true,
            ..Default::default()
        };
        let a = Classifier::train(&tiny(), &[cat], &toy());
        let bytes = a.to_bytes();
        let b = Classifier::from_bytes(&bytes).unwrap();
        assert_eq!(a, b);
        assert_eq!(b.to_bytes(), bytes);
        let text = "скорая помощь ехала два часа";
        assert_eq!(a.classify(text), b.classify(text));
    }

    #[test]
    fn a_damaged_model_is_refused() {
        let bytes = Classifier::train(&tiny(), &[], &toy()).to_bytes();
        assert!(matches!(
            Classifier::from_bytes(b"not a model"),
            Err(ModelError::Format)
        ));
        assert!(Classifier::from_bytes(&bytes[..bytes.len() - 3]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Classifier::from_bytes(&longer).is_err());
    }

    #[test]
    fn keyword_stems_match_word_prefixes_only() {
        let cat = Category {
            code: "agriculture.irrigation".into(),
            parent: Some("agriculture".into()),
            keywords_kk: vec!["арық".into()],
            active: true,
            ..Default::default()
        };
        let k = Keywords::new(&[cat]);
        assert_eq!(k.hits(&words("арықтар бітеліп қалды")).len(), 1);
        assert!(k.hits(&words("жарық жоқ")).is_empty());
    }

    #[test]
    fn corpus_lines_are_checked() {
        assert!(parse_corpus("").is_err());
        let bad = r#"{"id":"x","language":"ru","category":"land","subcategory":"health.ambulance","text":"t"}"#;
        assert!(parse_corpus(bad).is_err());
    }
}
