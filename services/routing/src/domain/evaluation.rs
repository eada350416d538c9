//! Evaluation of the classifier. The split is deterministic: an example is held out when
//! the first byte of SHA-256 of its id is below 51 (about a fifth), so it never changes
//! with line order and needs no random seed. Options and the confidence threshold are
//! tuned only by k-fold cross-validation on the training part ([`cross_validate`]; fold =
//! second byte of SHA-256 of the id modulo k); the held-out split is scored once, at the
//! end ([`evaluate`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::classifier::{Classifier, Example, TrainOptions};
use super::reference::Category;

/// True for the ~20 % of examples kept out of training.
pub fn is_held_out(id: &str) -> bool {
    Sha256::digest(id.as_bytes())[0] < 51
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassScores {
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Scores {
    pub per_category: BTreeMap<String, ClassScores>,
    pub macro_f1: f64,
    pub accuracy: f64,
    /// Examples scored (those the classifier answered for).
    pub scored: usize,
}

/// Precision, recall and F1 per class and their macro average. `pairs` are (truth,
/// prediction); a `None` prediction (abstained) counts against recall only.
pub fn score(pairs: &[(String, Option<String>)]) -> Scores {
    let mut classes: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new(); // tp fp fn support
    let mut correct = 0;
    let mut answered = 0;
    for (truth, pred) in pairs {
        classes.entry(truth.clone()).or_default().3 += 1;
        match pred {
            Some(p) if p == truth => {
                classes.entry(truth.clone()).or_default().0 += 1;
                correct += 1;
                answered += 1;
            }
            Some(p) => {
                classes.entry(p.clone()).or_default().1 += 1;
                classes.entry(truth.clone()).or_default().2 += 1;
                answered += 1;
            }
            None => classes.entry(truth.clone()).or_default().2 += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let per_category: BTreeMap<String, ClassScores> = classes
        .into_iter()
        .map(|(c, (tp, fp, fnn, support))| {
            let precision = ratio(tp, tp + fp);
            let recall = ratio(tp, tp + fnn);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            (
                c,
                ClassScores {
                    support,
                    precision,
                    recall,
                    f1,
                },
            )
        })
        .collect();
    let macro_f1 = if per_category.is_empty() {
        0.0
    } else {
        per_category.values().map(|s| s.f1).sum::<f64>() / per_category.len() as f64
    };
    Scores {
        per_category,
        macro_f1,
        accuracy: ratio(correct, answered),
        scored: answered,
    }
}

/// Thresholds tried by cross-validation to show the coverage/quality trade-off.
pub const THRESHOLDS: [f64; 8] = [0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8];

/// Fold (0..k) of a training example in k-fold cross-validation.
pub fn fold_of(id: &str, k: usize) -> usize {
    Sha256::digest(id.as_bytes())[1] as usize % k.max(1)
}

/// One scored text: truth and prediction at top level, the confidence, and the leaf.
#[derive(Debug, Clone)]
struct Scored {
    truth: String,
    truth_leaf: Option<String>,
    category: String,
    leaf: Option<String>,
    confidence: f64,
}

/// Figures at one confidence threshold.
#[derive(Debug, Clone)]
pub struct AtThreshold {
    pub threshold: f64,
    /// Share of texts at or above the threshold (routed without a registrar).
    pub coverage: f64,
    /// Macro-F1 over those texts.
    pub routed_macro_f1: f64,
}

fn routed_pairs(scored: &[Scored], threshold: f64) -> Vec<(String, Option<String>)> {
    scored
        .iter()
        .filter(|s| s.confidence >= threshold)
        .map(|s| (s.truth.clone(), Some(s.category.clone())))
        .collect()
}

fn coverage(scored: &[Scored], threshold: f64) -> f64 {
    if scored.is_empty() {
        return 0.0;
    }
    scored.iter().filter(|s| s.confidence >= threshold).count() as f64 / scored.len() as f64
}

fn curve(scored: &[Scored]) -> Vec<AtThreshold> {
    THRESHOLDS
        .iter()
        .map(|&t| AtThreshold {
            threshold: t,
            coverage: coverage(scored, t),
            routed_macro_f1: score(&routed_pairs(scored, t)).macro_f1,
        })
        .collect()
}

/// Expected calibration error: the gap between confidence and the share of right answers,
/// over ten equal-width confidence bins, weighted by their size (0 = perfectly calibrated).
fn calibration_error(scored: &[Scored]) -> f64 {
    if scored.is_empty() {
        return 0.0;
    }
    let mut bins = [(0usize, 0usize, 0.0f64); 10]; // count, right, sum of confidence
    for s in scored {
        let b = &mut bins[((s.confidence * 10.0) as usize).min(9)];
        b.0 += 1;
        b.1 += usize::from(s.category == s.truth);
        b.2 += s.confidence;
    }
    bins.iter()
        .filter(|b| b.0 > 0)
        .map(|&(_, right, conf)| (right as f64 - conf).abs())
        .sum::<f64>()
        / scored.len() as f64
}

/// The most frequent (truth, prediction) mistakes, most frequent first.
fn confusions(scored: &[Scored], top: usize) -> Vec<(String, String, usize)> {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for s in scored.iter().filter(|s| s.category != s.truth) {
        *counts.entry((&s.truth, &s.category)).or_default() += 1;
    }
    let mut out: Vec<_> = counts
        .into_iter()
        .map(|((t, p), n)| (t.to_owned(), p.to_owned(), n))
        .collect();
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
    out.truncate(top);
    out
}

fn classify_all(model: &Classifier, examples: &[Example]) -> Vec<Scored> {
    examples
        .iter()
        .map(|e| {
            let p = model.classify(&e.text);
            Scored {
                truth: e.category.clone(),
                truth_leaf: e.subcategory.clone(),
                category: p.category,
                leaf: p.leaf,
                confidence: p.confidence,
            }
        })
        .collect()
}

/// The result of [`cross_validate`].
#[derive(Debug, Clone)]
pub struct CrossValidation {
    pub folds: usize,
    /// Training examples (the held-out split is not touched).
    pub size: usize,
    /// Out-of-fold predictions of every training example, no threshold.
    pub all: Scores,
    /// Routed macro-F1 and coverage at each of [`THRESHOLDS`].
    pub curve: Vec<AtThreshold>,
    /// Expected calibration error of the out-of-fold confidences.
    pub calibration_error: f64,
    /// The most frequent (truth, prediction, count) mistakes.
    pub confusions: Vec<(String, String, usize)>,
}

/// k-fold cross-validation on the examples that are not held out: each fold is predicted
/// by a model trained on the other folds; the figures pool the out-of-fold predictions.
pub fn cross_validate(
    examples: &[Example],
    categories: &[Category],
    opts: &TrainOptions,
    folds: usize,
) -> CrossValidation {
    let folds = folds.max(2);
    let train: Vec<&Example> = examples.iter().filter(|e| !is_held_out(&e.id)).collect();
    let mut scored = Vec::new();
    for k in 0..folds {
        let (inside, outside): (Vec<Example>, Vec<Example>) = train
            .iter()
            .map(|e| (*e).clone())
            .partition(|e| fold_of(&e.id, folds) == k);
        let model = Classifier::train(&outside, categories, opts);
        scored.extend(classify_all(&model, &inside));
    }
    let all: Vec<_> = scored
        .iter()
        .map(|s| (s.truth.clone(), Some(s.category.clone())))
        .collect();
    CrossValidation {
        folds,
        size: train.len(),
        all: score(&all),
        curve: curve(&scored),
        calibration_error: calibration_error(&scored),
        confusions: confusions(&scored, 15),
    }
}

/// The result of [`evaluate`].
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub model: String,
    pub train_size: usize,
    pub test_size: usize,
    pub threshold: f64,
    /// Every held-out text classified, whatever the confidence.
    pub all: Scores,
    /// Only texts at or above the threshold: what is routed without a registrar. Texts
    /// below it go to manual routing; they are not guessed.
    pub routed: Scores,
    /// Share of held-out texts at or above the threshold.
    pub coverage: f64,
    /// Routed macro-F1 and coverage at each of [`THRESHOLDS`] (for information only:
    /// the threshold is chosen by cross-validation, not here).
    pub curve: Vec<AtThreshold>,
    /// Accuracy of the leaf among texts whose category was right and a leaf was given.
    pub leaf_accuracy: f64,
    /// Expected calibration error of the confidences on the held-out split.
    pub calibration_error: f64,
}

/// Trains on the examples not held out and scores the held-out ones at top level, once.
pub fn evaluate(
    examples: &[Example],
    categories: &[Category],
    opts: &TrainOptions,
    threshold: f64,
) -> Evaluation {
    let (test, train): (Vec<Example>, Vec<Example>) =
        examples.iter().cloned().partition(|e| is_held_out(&e.id));
    let model = Classifier::train(&train, categories, opts);
    let scored = classify_all(&model, &test);
    let all: Vec<_> = scored
        .iter()
        .map(|s| (s.truth.clone(), Some(s.category.clone())))
        .collect();
    let (mut leaf_right, mut leaf_given) = (0, 0);
    for s in &scored {
        if s.category == s.truth
            && let (Some(l), Some(truth)) = (&s.leaf, &s.truth_leaf)
        {
            leaf_given += 1;
            if l == truth {
                leaf_right += 1;
            }
        }
    }
    Evaluation {
        model: model.name().to_owned(),
        train_size: train.len(),
        test_size: test.len(),
        threshold,
        all: score(&all),
        routed: score(&routed_pairs(&scored, threshold)),
        coverage: coverage(&scored, threshold),
        curve: curve(&scored),
        leaf_accuracy: if leaf_given == 0 {
            0.0
        } else {
            leaf_right as f64 / leaf_given as f64
        },
        calibration_error: calibration_error(&scored),
    }
}

fn curve_table(out: &mut String, curve: &[AtThreshold]) {
    let _ = writeln!(
        out,
        "{:>9} {:>9} {:>16}",
        "threshold", "coverage", "routed macro-F1"
    );
    for c in curve {
        let _ = writeln!(
            out,
            "{:>9.2} {:>9.3} {:>16.3}",
            c.threshold, c.coverage, c.routed_macro_f1
        );
    }
}

/// A readable report of a cross-validation (the figures to tune on).
pub fn cv_report(cv: &CrossValidation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}-fold cross-validation on the {} training texts (held-out split untouched)",
        cv.folds, cv.size
    );
    scores_table(&mut out, "Out-of-fold predictions (no threshold):", &cv.all);
    let _ = writeln!(
        out,
        "calibration error {:.3} (confidence vs share right, 10 bins)",
        cv.calibration_error
    );
    let _ = writeln!(out, "\nMost frequent confusions (truth -> predicted):");
    for (t, p, n) in &cv.confusions {
        let _ = writeln!(out, "{n:>4}  {t} -> {p}");
    }
    let _ = writeln!(out);
    curve_table(&mut out, &cv.curve);
    out
}

fn scores_table(out: &mut String, title: &str, s: &Scores) {
    let _ = writeln!(out, "\n{title}");
    let _ = writeln!(
        out,
        "{:<22} {:>7} {:>9} {:>7} {:>7}",
        "category", "support", "precision", "recall", "f1"
    );
    for (c, v) in &s.per_category {
        let _ = writeln!(
            out,
            "{:<22} {:>7} {:>9.3} {:>7.3} {:>7.3}",
            c, v.support, v.precision, v.recall, v.f1
        );
    }
    let _ = writeln!(
        out,
        "macro-F1 {:.3}  accuracy {:.3}  scored {}",
        s.macro_f1, s.accuracy, s.scored
    );
}

/// A readable report: per-category precision/recall/F1 and the macro averages, over all
/// held-out texts and over those routed at the threshold, with the coverage.
pub fn report(e: &Evaluation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "model {}  train {}  held out {}  (split: sha256(id)[0] < 51)",
        e.model, e.train_size, e.test_size
    );
    scores_table(&mut out, "All held-out texts (no threshold):", &e.all);
    scores_table(
        &mut out,
        &format!(
            "Routed automatically (confidence >= {:.2}; the rest go to manual routing):",
            e.threshold
        ),
        &e.routed,
    );
    let _ = writeln!(
        out,
        "coverage {:.3} (share routed without a registrar)  leaf accuracy {:.3}  calibration error {:.3}",
        e.coverage, e.leaf_accuracy, e.calibration_error
    );
    let _ = writeln!(
        out,
        "\nOther thresholds on the held-out split (information only; tune with --cv):"
    );
    curve_table(&mut out, &e.curve);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str, q: Option<&str>) -> (String, Option<String>) {
        (t.into(), q.map(Into::into))
    }

    #[test]
    fn perfect_scores() {
        let s = score(&[p("a", Some("a")), p("b", Some("b"))]);
        assert_eq!(s.macro_f1, 1.0);
        assert_eq!(s.accuracy, 1.0);
    }

    #[test]
    fn precision_and_recall_by_hand() {
        // a: tp 1, fn 1 (predicted b); b: tp 1, fp 1.
        let s = score(&[p("a", Some("a")), p("a", Some("b")), p("b", Some("b"))]);
        let a = &s.per_category["a"];
        assert_eq!((a.precision, a.recall), (1.0, 0.5));
        let b = &s.per_category["b"];
        assert_eq!((b.precision, b.recall), (0.5, 1.0));
        assert!((s.macro_f1 - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn abstention_costs_recall_only() {
        let s = score(&[p("a", Some("a")), p("a", None)]);
        assert_eq!(s.per_category["a"].precision, 1.0);
        assert_eq!(s.per_category["a"].recall, 0.5);
        assert_eq!(s.scored, 1);
    }

    fn scored(truth: &str, predicted: &str, confidence: f64) -> Scored {
        Scored {
            truth: truth.into(),
            truth_leaf: None,
            category: predicted.into(),
            leaf: None,
            confidence,
        }
    }

    #[test]
    fn calibration_error_by_hand() {
        // Bin 0.9: two answers at 0.95, one right: |1 - 1.9| = 0.9. Bin 0.5: one right
        // answer at 0.5: |1 - 0.5| = 0.5. (0.9 + 0.5) / 3.
        let s = [
            scored("a", "a", 0.95),
            scored("a", "b", 0.95),
            scored("b", "b", 0.5),
        ];
        assert!((calibration_error(&s) - 1.4 / 3.0).abs() < 1e-9);
        let perfect = [scored("a", "a", 1.0), scored("b", "b", 1.0)];
        assert_eq!(calibration_error(&perfect), 0.0);
        assert_eq!(calibration_error(&[]), 0.0);
    }

    #[test]
    fn confusions_count_mistakes_most_frequent_first() {
        let s = [
            scored("a", "b", 0.5),
            scored("c", "b", 0.5),
            scored("c", "b", 0.5),
            scored("a", "a", 0.5),
        ];
        assert_eq!(
            confusions(&s, 5),
            vec![("c".into(), "b".into(), 2), ("a".into(), "b".into(), 1)]
        );
        assert_eq!(confusions(&s, 1).len(), 1);
    }

    #[test]
    fn folds_are_stable_and_balanced() {
        let mut sizes = [0usize; 5];
        for i in 0..1000 {
            let id = format!("bk-{i:04}");
            assert_eq!(fold_of(&id, 5), fold_of(&id, 5));
            sizes[fold_of(&id, 5)] += 1;
        }
        assert!(sizes.iter().all(|s| (150..250).contains(s)), "{sizes:?}");
    }

    #[test]
    fn split_is_stable_and_about_a_fifth() {
        let held = (0..1000)
            .filter(|i| is_held_out(&format!("bk-{i:04}")))
            .count();
        assert!((150..250).contains(&held), "{held}");
        assert_eq!(is_held_out("bk-0001"), is_held_out("bk-0001"));
    }
}
