//! The classifier's evaluation on the held-out split (issue 3's target: macro-F1 >= 0.85).
//! "The" figure of the target is the classifier's top-level answer on every held-out text,
//! no threshold and no abstention (0.854 on the 349 held-out texts of the 1740-text corpus;
//! 0.844 on the 309 held-out texts of the 1470-text corpus, see the routing README
//! "Evaluation"). Options, the temperature and the threshold were chosen only by 5-fold
//! cross-validation on the training part. The other floors are the figures reached,
//! rounded down.

use bakylau_routing::domain::classifier::{Classifier, TrainOptions};
use bakylau_routing::domain::evaluation::report;
use bakylau_routing::domain::reference::embedded;
use bakylau_routing::settings::RoutingSettings;

#[test]
fn macro_f1_on_the_held_out_split() {
    let threshold = RoutingSettings::default().confidence_threshold;
    let e = bakylau_routing::evaluation(None, threshold, &TrainOptions::default()).unwrap();
    println!("{}", report(&e));
    assert!(
        e.test_size >= 150,
        "held-out split too small: {}",
        e.test_size
    );
    assert_eq!(
        e.all.per_category.len(),
        15,
        "every category is in the held-out split"
    );
    // Issue 3's target: every held-out text, top-1, no threshold.
    assert!(
        e.all.macro_f1 >= 0.85,
        "macro-F1 over all held-out texts {:.3} < 0.85",
        e.all.macro_f1
    );
    // What is routed without a registrar at the configured threshold, and how much.
    assert!(
        e.routed.macro_f1 >= 0.92,
        "macro-F1 of routed appeals {:.3}",
        e.routed.macro_f1
    );
    assert!(
        e.coverage >= 0.75,
        "only {:.3} routed without a registrar",
        e.coverage
    );
    assert!(
        e.leaf_accuracy >= 0.95,
        "leaf accuracy {:.3}",
        e.leaf_accuracy
    );
    // The confidence means what it says: within 0.1 of the share of right answers.
    assert!(
        e.calibration_error <= 0.1,
        "calibration error {:.3}",
        e.calibration_error
    );
}

#[test]
fn the_shipped_model_is_the_one_the_corpus_trains() {
    let shipped = Classifier::from_bytes(embedded::MODEL).expect("data/model/classifier.bin loads");
    let trained = bakylau_routing::train_classifier(None).unwrap();
    assert_eq!(
        shipped.name(),
        trained.name(),
        "data/model/classifier.bin is stale: run `bakylau-routing train --data-dir services/routing/data`"
    );
    assert!(
        trained.to_bytes() == embedded::MODEL,
        "data/model/classifier.bin differs from a fresh training: run `bakylau-routing train --data-dir services/routing/data`"
    );
    let loaded = bakylau_routing::load_classifier(None).unwrap();
    assert_eq!(loaded.name(), shipped.name());
}

#[test]
fn cross_validation_uses_the_training_part_only_and_is_deterministic() {
    let a = bakylau_routing::cross_validation(None, 5, &TrainOptions::default()).unwrap();
    let e = bakylau_routing::evaluation(None, 0.7, &TrainOptions::default()).unwrap();
    assert_eq!(a.size, e.train_size);
    assert_eq!(a.all.scored, e.train_size);
    let b = bakylau_routing::cross_validation(None, 5, &TrainOptions::default()).unwrap();
    assert_eq!(a.all.macro_f1, b.all.macro_f1);
    assert!(
        a.all.macro_f1 >= 0.85,
        "cross-validated macro-F1 {:.3}",
        a.all.macro_f1
    );
    assert!(
        a.calibration_error <= 0.05,
        "cross-validated calibration error {:.3}",
        a.calibration_error
    );
    let e2 = bakylau_routing::evaluation(None, 0.7, &TrainOptions::default()).unwrap();
    assert_eq!(e.model, e2.model);
    assert_eq!(e.all.macro_f1, e2.all.macro_f1);
    assert_eq!(e.routed.macro_f1, e2.routed.macro_f1);
}
