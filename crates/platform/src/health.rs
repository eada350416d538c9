//! Readiness of a service's dependencies, reflected in `grpc.health.v1`: NOT_SERVING while
//! Postgres or any broker link is lost, and during shutdown (Kubernetes' gRPC probe asks `""`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct Readiness {
    links: Mutex<BTreeMap<&'static str, bool>>,
    shutting_down: AtomicBool,
    /// Wakes the health watcher when a link changes, so SERVING is reported as soon as the
    /// last link comes up instead of at its next periodic check.
    changed: tokio::sync::Notify,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records whether the link named `name` (`postgres`, `broker:outbox-relay`, ...) is up.
    pub fn set(&self, name: &'static str, up: bool) {
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        let was = links.insert(name, up);
        if was != Some(up) {
            if up {
                tracing::info!(link = name, "dependency link up");
            } else {
                tracing::warn!(link = name, "dependency link down");
            }
            self.changed.notify_one();
        }
    }

    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// Resolves after the next change of a link or the start of shutdown (or at once when
    /// one happened since the last call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Serving when not shutting down and every registered link is up.
    pub fn is_ready(&self) -> bool {
        !self.is_shutting_down()
            && self
                .links
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .all(|up| *up)
    }

    /// Names of the links that are down, for logs and diagnostics.
    pub fn down_links(&self) -> Vec<&'static str> {
        self.links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, up)| !**up)
            .map(|(name, _)| *name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_all_links_up_and_not_stopping() {
        let r = Readiness::new();
        assert!(r.is_ready());
        r.set("postgres", true);
        r.set("broker:relay", false);
        assert!(!r.is_ready());
        assert_eq!(r.down_links(), vec!["broker:relay"]);
        r.set("broker:relay", true);
        assert!(r.is_ready());
        r.begin_shutdown();
        assert!(!r.is_ready());
    }

    #[test]
    fn a_change_wakes_the_watcher_and_a_repeat_does_not() {
        use futures::FutureExt as _;
        let r = Readiness::new();
        r.set("postgres", true);
        assert!(
            r.changed().now_or_never().is_some(),
            "a new link is a change"
        );
        r.set("postgres", true);
        assert!(
            r.changed().now_or_never().is_none(),
            "the same state is no change"
        );
        r.set("postgres", false);
        assert!(r.changed().now_or_never().is_some());
        r.begin_shutdown();
        assert!(r.changed().now_or_never().is_some());
    }
}
