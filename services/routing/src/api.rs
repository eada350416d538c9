//! gRPC adapter: `bakylau.routing.v1.RoutingService`. Bad input is `INVALID_ARGUMENT`
//! naming each field (also as `google.rpc.BadRequest` details); writes need a writer's
//! verified identity (the bearer token's caller) and are audited with it.

use std::sync::Arc;

use bakylau_platform::audit;
use bakylau_platform::auth::Caller;
use bakylau_proto::routing::v1 as pb;
use bakylau_proto::routing::v1::routing_service_server::RoutingService;
use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::domain::edits;
use crate::domain::reference::{
    Action, Body, Category, Explanation, Names, Reference, Rule, category_prefix_matches,
};
use crate::domain::routing::RerouteInput;
use crate::domain::{FieldIssue, describe};
use crate::engine::{Engine, EngineError};
use crate::events::timestamp;
use crate::storage::{self, AppealRecord, DecisionRecord, Entity, Stamp};

pub struct RoutingApi {
    pub engine: Arc<Engine>,
}

pub fn invalid(issues: Vec<FieldIssue>) -> Status {
    let message = format!("invalid request: {}", describe(&issues));
    bakylau_platform::grpc::invalid_argument(
        message,
        issues.iter().map(|i| (i.field.clone(), i.message.clone())),
    )
}

fn invalid_one(field: &str, message: &str) -> Status {
    invalid(vec![FieldIssue::new(field, message)])
}

fn db_status(e: sqlx::Error) -> Status {
    if let Some(status) = bakylau_platform::db::bad_input(&e) {
        return status;
    }
    if bakylau_platform::db::is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        Status::unavailable("routing is temporarily unavailable; retry")
    } else {
        tracing::error!(error = %e, "database error");
        Status::internal("internal error")
    }
}

fn engine_status(e: EngineError) -> Status {
    match e {
        EngineError::Invalid(issues) => invalid(issues),
        EngineError::NotFound => Status::not_found("no routing decision for that appeal"),
        EngineError::Db(e) | EngineError::Storage(storage::StorageError::Db(e)) => db_status(e),
        other => {
            tracing::error!(error = %other, "routing error");
            Status::internal("internal error")
        }
    }
}

/// The caller's user id, if the caller may write (the auth layer verified the token and
/// already applied [`crate::policy::POLICY`]; this keeps the handlers safe on their own).
fn writer<T>(request: &Request<T>) -> Result<String, Status> {
    let caller = Caller::of(request)?;
    caller.require(crate::policy::WRITERS, "change routing")?;
    Ok(caller.subject.chars().take(100).collect())
}

fn parse_uuid(field: &str, s: &str) -> Result<Option<Uuid>, Status> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(s)
        .map(Some)
        .map_err(|_| invalid_one(field, "not a UUID"))
}

fn appeal_key(
    appeal_id: &str,
    registration_number: &str,
) -> Result<(Option<Uuid>, Option<String>), Status> {
    let id = parse_uuid("appeal_id", appeal_id)?;
    let number = Some(registration_number.trim().to_owned()).filter(|s| !s.is_empty());
    if id.is_none() && number.is_none() {
        return Err(invalid(vec![
            FieldIssue::new("appeal_id", "give the appeal id or its registration number"),
            FieldIssue::new(
                "registration_number",
                "give the appeal id or its registration number",
            ),
        ]));
    }
    Ok((id, number))
}

fn decision_message(a: &AppealRecord, d: &DecisionRecord) -> pb::RoutingDecision {
    let manual = d.outcome == "needs_manual_routing";
    pb::RoutingDecision {
        appeal_id: a.appeal_id.to_string(),
        registration_number: a.registration_number.clone(),
        outcome: d.outcome.clone(),
        category: if manual {
            String::new()
        } else {
            d.category.clone().unwrap_or_default()
        },
        suggested_category: if manual {
            d.category.clone().unwrap_or_default()
        } else {
            String::new()
        },
        confidence: d.confidence,
        lead_executor: d.lead_executor.clone(),
        co_executors: d.co_executors.clone(),
        decided_by: d.decided_by.clone(),
        reason: d.reason.clone(),
        decided_at: Some(timestamp(d.decided_at)),
        history: Vec::new(),
        classified_by: d.classified_by.clone(),
        explanation_kk: d.explanation_kk.clone(),
        explanation_ru: d.explanation_ru.clone(),
        notify_by: d.notify_by.map(|n| n.to_string()).unwrap_or_default(),
        legal_basis: d.legal_basis.clone(),
        duplicates: Vec::new(),
        sequence: d.sequence as u32,
        event_id: d.event_id.to_string(),
        district: a.district.clone().unwrap_or_default(),
        kind: a.kind.clone(),
        registered_at: Some(timestamp(a.registered_at)),
        decided_by_user: d.decided_by_user.clone(),
    }
}

fn category_message(c: &Category, stamp: Option<&Stamp>) -> pb::Category {
    pb::Category {
        code: c.code.clone(),
        parent: c.parent.clone().unwrap_or_default(),
        name_kk: c.names.kk.clone(),
        name_ru: c.names.ru.clone(),
        name_en: c.names.en.clone(),
        excluded: c.excluded,
        redirect_to: c.redirect_to.clone().unwrap_or_default(),
        redirect_alternatives: c.redirect_alternatives.clone(),
        legal_basis: c.legal_basis.clone(),
        explanation_kk: c.explanation.kk.clone(),
        explanation_ru: c.explanation.ru.clone(),
        keywords_kk: c.keywords_kk.clone(),
        keywords_ru: c.keywords_ru.clone(),
        active: c.active,
        description: c.description.clone(),
        updated_by: stamp.map(|s| s.updated_by.clone()).unwrap_or_default(),
        updated_at: stamp.map(|s| timestamp(s.updated_at)),
    }
}

fn category_from(m: pb::Category) -> Category {
    Category {
        code: m.code,
        parent: Some(m.parent),
        names: Names {
            kk: m.name_kk,
            ru: m.name_ru,
            en: m.name_en,
        },
        description: m.description,
        excluded: m.excluded,
        redirect_to: Some(m.redirect_to),
        redirect_alternatives: m.redirect_alternatives,
        legal_basis: m.legal_basis,
        explanation: Explanation {
            kk: m.explanation_kk,
            ru: m.explanation_ru,
        },
        keywords_kk: m.keywords_kk,
        keywords_ru: m.keywords_ru,
        active: true,
    }
}

fn body_message(b: &Body, stamp: Option<&Stamp>) -> pb::Body {
    pb::Body {
        code: b.code.clone(),
        kind: b.kind.clone(),
        name_kk: b.names.kk.clone(),
        name_ru: b.names.ru.clone(),
        name_en: b.names.en.clone(),
        parent: b.parent.clone().unwrap_or_default(),
        competence: b.competence.clone(),
        territory: b.territory.clone(),
        district: b.district.clone().unwrap_or_default(),
        kato: b.kato.clone().unwrap_or_default(),
        unit: b.unit.clone().unwrap_or_default(),
        active: b.active,
        updated_by: stamp.map(|s| s.updated_by.clone()).unwrap_or_default(),
        updated_at: stamp.map(|s| timestamp(s.updated_at)),
    }
}

fn body_from(m: pb::Body) -> Body {
    Body {
        code: m.code,
        kind: m.kind,
        names: Names {
            kk: m.name_kk,
            ru: m.name_ru,
            en: m.name_en,
        },
        parent: Some(m.parent),
        district: Some(m.district),
        unit: Some(m.unit),
        kato: Some(m.kato),
        competence: m.competence,
        territory: m.territory,
        active: true,
    }
}

fn rule_message(r: &Rule, stamp: Option<&Stamp>) -> pb::Rule {
    pb::Rule {
        id: r.id.clone(),
        priority: r.priority,
        description: r.description.clone(),
        action: r.action.as_str().to_owned(),
        lead: r.lead.clone(),
        co_executors: r.co_executors.clone(),
        category: r.category.clone(),
        territory: r.territory.clone(),
        kinds: r.kinds.clone(),
        applicant_types: r.applicant_types.clone(),
        active: r.active,
        updated_by: stamp.map(|s| s.updated_by.clone()).unwrap_or_default(),
        updated_at: stamp.map(|s| timestamp(s.updated_at)),
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn page_token(a: &AppealRecord) -> String {
    format!("{}_{}", a.registered_at.timestamp_micros(), a.appeal_id)
}

fn parse_page_token(s: &str) -> Result<Option<(DateTime<Utc>, Uuid)>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || invalid_one("page_token", "not a token from an earlier page");
    let (micros, id) = s.split_once('_').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok(Some((at, id)))
}

impl RoutingApi {
    async fn reference(&self) -> Result<Arc<Reference>, Status> {
        let mut conn = self.engine.pool.acquire().await.map_err(db_status)?;
        self.engine
            .reference(&mut conn)
            .await
            .map_err(engine_status)
    }

    async fn stamps(
        &self,
        entity: Entity,
    ) -> Result<std::collections::HashMap<String, Stamp>, Status> {
        let mut conn = self.engine.pool.acquire().await.map_err(db_status)?;
        storage::stamps(&mut conn, entity).await.map_err(db_status)
    }

    /// The current decision with its history and duplicate links.
    async fn view(
        &self,
        conn: &mut sqlx::PgConnection,
        a: &AppealRecord,
    ) -> Result<pb::RoutingDecision, Status> {
        let decisions = storage::decisions_of(conn, a.appeal_id)
            .await
            .map_err(db_status)?;
        let duplicates = storage::duplicates_of(conn, a.appeal_id)
            .await
            .map_err(db_status)?;
        let Some((current, earlier)) = decisions.split_last() else {
            return Err(Status::not_found("no routing decision for that appeal"));
        };
        let mut out = decision_message(a, current);
        out.history = earlier.iter().map(|d| decision_message(a, d)).collect();
        out.duplicates = duplicates
            .into_iter()
            .map(|d| pb::DuplicateLink {
                appeal_id: d.appeal_id.to_string(),
                registration_number: d.registration_number,
                similarity: d.similarity,
                basis: d.basis,
            })
            .collect();
        Ok(out)
    }

    /// Stores an edited reference entity and its audit record in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        entity: Entity,
        code: &str,
        before: Option<serde_json::Value>,
        data: serde_json::Value,
        active: bool,
        priority: i32,
        action: &str,
        actor: &str,
        reason: &str,
    ) -> Result<(), Status> {
        let mut tx = self.engine.pool.begin().await.map_err(db_status)?;
        storage::save_entity(
            &mut tx, entity, code, before, data, active, priority, action, actor, reason,
        )
        .await
        .map_err(db_status)?;
        tx.commit().await.map_err(db_status)?;
        metrics::counter!("routing_reference_edits_total", "entity" => entity.as_str())
            .increment(1);
        tracing::info!(
            entity = entity.as_str(),
            code,
            action,
            actor,
            "reference data changed"
        );
        Ok(())
    }
}

#[tonic::async_trait]
impl RoutingService for RoutingApi {
    async fn get_routing(
        &self,
        request: Request<pb::GetRoutingRequest>,
    ) -> Result<Response<pb::RoutingDecision>, Status> {
        let r = request.into_inner();
        let (id, number) = appeal_key(&r.appeal_id, &r.registration_number)?;
        let mut conn = self.engine.pool.acquire().await.map_err(db_status)?;
        let appeal = storage::find_appeal(&mut conn, id, number.as_deref(), false)
            .await
            .map_err(db_status)?
            .ok_or_else(|| Status::not_found("routing has not seen that appeal (yet)"))?;
        let response = Response::new(self.view(&mut conn, &appeal).await?);
        Ok(audit::about_appeals(
            response,
            [(appeal.appeal_id, &appeal.registration_number)],
        ))
    }

    async fn reroute(
        &self,
        request: Request<pb::RerouteRequest>,
    ) -> Result<Response<pb::RoutingDecision>, Status> {
        let user = writer(&request)?;
        let r = request.into_inner();
        let (id, number) = appeal_key(&r.appeal_id, &r.registration_number)?;
        let input = RerouteInput {
            category: r.category,
            lead_executor: r.lead_executor,
            co_executors: r.co_executors,
            reason: r.reason,
        };
        let appeal = self
            .engine
            .reroute(id, number.as_deref(), &input, &user)
            .await
            .map_err(engine_status)?;
        let mut conn = self.engine.pool.acquire().await.map_err(db_status)?;
        let response = Response::new(self.view(&mut conn, &appeal).await?);
        Ok(audit::about_appeals(
            response,
            [(appeal.appeal_id, &appeal.registration_number)],
        ))
    }

    async fn list_manual_queue(
        &self,
        request: Request<pb::ListManualQueueRequest>,
    ) -> Result<Response<pb::ListManualQueueResponse>, Status> {
        let r = request.into_inner();
        let size = match r.page_size {
            0 => 50,
            n => n.min(500),
        } as i64;
        let after = parse_page_token(&r.page_token)?;
        let mut conn = self.engine.pool.acquire().await.map_err(db_status)?;
        let mut page = storage::manual_queue(&mut conn, r.include_duplicates, after, size + 1)
            .await
            .map_err(db_status)?;
        let more = page.len() as i64 > size;
        page.truncate(size as usize);
        let mut items = Vec::with_capacity(page.len());
        for a in &page {
            items.push(self.view(&mut conn, a).await?);
        }
        let waiting = storage::manual_queue_size(&mut conn)
            .await
            .map_err(db_status)?;
        metrics::gauge!("routing_manual_queue_size").set(waiting as f64);
        let response = Response::new(pb::ListManualQueueResponse {
            next_page_token: if more {
                page.last().map(page_token).unwrap_or_default()
            } else {
                String::new()
            },
            items,
            waiting: waiting as u32,
        });
        Ok(audit::about_appeals(
            response,
            page.iter().map(|a| (a.appeal_id, &a.registration_number)),
        ))
    }

    async fn classify(
        &self,
        request: Request<pb::ClassifyRequest>,
    ) -> Result<Response<pb::ClassifyResponse>, Status> {
        let r = request.into_inner();
        if r.text.trim().is_empty() {
            return Err(invalid_one("text", "required"));
        }
        if r.text.chars().count() > 100_000 {
            return Err(invalid_one("text", "at most 100000 characters"));
        }
        let p = self.engine.classify(&r.text);
        let threshold = self.engine.settings.confidence_threshold;
        Ok(Response::new(pb::ClassifyResponse {
            category: p.code().to_owned(),
            confidence: p.confidence,
            model: self.engine.classifier.name().to_owned(),
            candidates: p
                .candidates
                .iter()
                .take(5)
                .map(|(c, v)| pb::Candidate {
                    category: c.clone(),
                    probability: *v,
                })
                .collect(),
            above_threshold: p.confidence >= threshold,
            threshold,
        }))
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let r = request.into_inner();
        let reference = self.reference().await?;
        let stamps = self.stamps(Entity::Category).await?;
        let categories = reference
            .categories
            .iter()
            .filter(|c| r.include_inactive || c.active)
            .filter(|c| r.parent.is_empty() || category_prefix_matches(&r.parent, &c.code))
            .map(|c| category_message(c, stamps.get(&c.code)))
            .collect();
        Ok(Response::new(pb::ListCategoriesResponse { categories }))
    }

    async fn get_category(
        &self,
        request: Request<pb::GetCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let code = request.into_inner().code;
        let reference = self.reference().await?;
        let c = reference
            .category(code.trim())
            .ok_or_else(|| Status::not_found(format!("no category {code:?}")))?;
        let stamps = self.stamps(Entity::Category).await?;
        Ok(Response::new(category_message(c, stamps.get(&c.code))))
    }

    async fn upsert_category(
        &self,
        request: Request<pb::UpsertCategoryRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let user = writer(&request)?;
        let r = request.into_inner();
        let m = r
            .category
            .ok_or_else(|| invalid_one("category", "required"))?;
        let reference = self.reference().await?;
        let mut c = category_from(m);
        let issues = edits::check_category(&reference, &mut c);
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let before = reference.category(&c.code);
        c.active = before.is_none_or(|b| b.active);
        if let Some(b) = before {
            // Only leaves are redirected; a top-level category keeps its excluded mark.
            if b.parent.is_none() {
                c.excluded = b.excluded;
            }
        }
        let action = if before.is_some() { "update" } else { "create" };
        self.save(
            Entity::Category,
            &c.code,
            before.map(json),
            json(&c),
            c.active,
            0,
            action,
            &user,
            r.reason.trim(),
        )
        .await?;
        let stamps = self.stamps(Entity::Category).await?;
        Ok(Response::new(category_message(&c, stamps.get(&c.code))))
    }

    async fn set_category_active(
        &self,
        request: Request<pb::SetActiveRequest>,
    ) -> Result<Response<pb::Category>, Status> {
        let user = writer(&request)?;
        let r = request.into_inner();
        let reference = self.reference().await?;
        let before = reference
            .category(r.code.trim())
            .ok_or_else(|| Status::not_found(format!("no category {:?}", r.code)))?;
        let mut c = before.clone();
        c.active = r.active;
        let action = if r.active { "activate" } else { "deactivate" };
        self.save(
            Entity::Category,
            &c.code,
            Some(json(before)),
            json(&c),
            c.active,
            0,
            action,
            &user,
            r.reason.trim(),
        )
        .await?;
        let stamps = self.stamps(Entity::Category).await?;
        Ok(Response::new(category_message(&c, stamps.get(&c.code))))
    }

    async fn list_bodies(
        &self,
        request: Request<pb::ListBodiesRequest>,
    ) -> Result<Response<pb::ListBodiesResponse>, Status> {
        let r = request.into_inner();
        let reference = self.reference().await?;
        let stamps = self.stamps(Entity::Body).await?;
        let bodies = reference
            .bodies
            .iter()
            .filter(|b| r.include_inactive || b.active)
            .filter(|b| r.kind.is_empty() || b.kind == r.kind)
            .filter(|b| {
                r.district.is_empty()
                    || b.district.as_deref() == Some(r.district.as_str())
                    || b.territory.iter().any(|t| t == &r.district)
            })
            .filter(|b| r.category.is_empty() || b.competent_on(&r.category))
            .map(|b| body_message(b, stamps.get(&b.code)))
            .collect();
        Ok(Response::new(pb::ListBodiesResponse { bodies }))
    }

    async fn get_body(
        &self,
        request: Request<pb::GetBodyRequest>,
    ) -> Result<Response<pb::Body>, Status> {
        let code = request.into_inner().code;
        let reference = self.reference().await?;
        let b = reference
            .body(code.trim())
            .ok_or_else(|| Status::not_found(format!("no body {code:?}")))?;
        let stamps = self.stamps(Entity::Body).await?;
        Ok(Response::new(body_message(b, stamps.get(&b.code))))
    }

    async fn upsert_body(
        &self,
        request: Request<pb::UpsertBodyRequest>,
    ) -> Result<Response<pb::Body>, Status> {
        let user = writer(&request)?;
        let r = request.into_inner();
        let m = r.body.ok_or_else(|| invalid_one("body", "required"))?;
        let reference = self.reference().await?;
        let mut b = body_from(m);
        let issues = edits::check_body(&reference, &mut b);
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        let before = reference.body(&b.code);
        b.active = before.is_none_or(|x| x.active);
        let action = if before.is_some() { "update" } else { "create" };
        self.save(
            Entity::Body,
            &b.code,
            before.map(json),
            json(&b),
            b.active,
            0,
            action,
            &user,
            r.reason.trim(),
        )
        .await?;
        let stamps = self.stamps(Entity::Body).await?;
        Ok(Response::new(body_message(&b, stamps.get(&b.code))))
    }

    async fn set_body_active(
        &self,
        request: Request<pb::SetActiveRequest>,
    ) -> Result<Response<pb::Body>, Status> {
        let user = writer(&request)?;
        let r = request.into_inner();
        let reference = self.reference().await?;
        let before = reference
            .body(r.code.trim())
            .ok_or_else(|| Status::not_found(format!("no body {:?}", r.code)))?;
        let mut b = before.clone();
        b.active = r.active;
        let action = if r.active { "activate" } else { "deactivate" };
        self.save(
            Entity::Body,
            &b.code,
            Some(json(before)),
            json(&b),
            b.active,
            0,
            action,
            &user,
            r.reason.trim(),
        )
        .await?;
        let stamps = self.stamps(Entity::Body).await?;
        Ok(Response::new(body_message(&b, stamps.get(&b.code))))
    }

    async fn list_districts(
        &self,
        _request: Request<pb::ListDistrictsRequest>,
    ) -> Result<Response<pb::ListDistrictsResponse>, Status> {
        let reference = self.reference().await?;
        Ok(Response::new(pb::ListDistrictsResponse {
            districts: reference
                .districts
                .iter()
                .map(|d| pb::District {
                    code: d.code.clone(),
                    kind: d.kind.clone(),
                    kato: d.kato.clone().unwrap_or_default(),
                    name_kk: d.names.kk.clone(),
                    name_ru: d.names.ru.clone(),
                    name_en: d.names.en.clone(),
                })
                .collect(),
        }))
    }

    async fn list_rules(
        &self,
        request: Request<pb::ListRulesRequest>,
    ) -> Result<Response<pb::ListRulesResponse>, Status> {
        let r = request.into_inner();
        let reference = self.reference().await?;
        let stamps = self.stamps(Entity::Rule).await?;
        Ok(Response::new(pb::ListRulesResponse {
            rules: reference
                .rules
                .iter()
                .filter(|x| r.include_inactive || x.active)
                .map(|x| rule_message(x, stamps.get(&x.id)))
                .collect(),
        }))
    }

    async fn upsert_rule(
        &self,
        request: Request<pb::UpsertRuleRequest>,
    ) -> Result<Response<pb::Rule>, Status> {
        let user = writer(&request)?;
        let r = request.into_inner();
        let m = r.rule.ok_or_else(|| invalid_one("rule", "required"))?;
        let action = Action::parse(&m.action)
            .ok_or_else(|| invalid_one("rule.action", "route or redirect"))?;
        let reference = self.reference().await?;
        let before = reference.rules.iter().find(|x| x.id == m.id.trim());
        let rule = Rule {
            id: m.id.trim().to_owned(),
            priority: m.priority,
            description: m.description,
            action,
            lead: m.lead.trim().to_owned(),
            co_executors: m.co_executors,
            category: m.category.trim().to_owned(),
            territory: m.territory,
            kinds: m.kinds,
            applicant_types: m.applicant_types,
            active: before.is_none_or(|b| b.active),
        };
        let issues = edits::check_rule(&reference, &rule);
        if !issues.is_empty() {
            return Err(invalid(issues));
        }
        // Priorities are unique; two concurrent edits are caught by the check below under the lock.
        let mut tx = self.engine.pool.begin().await.map_err(db_status)?;
        storage::lock_reference(&mut tx).await.map_err(db_status)?;
        let clash: Option<String> =
            sqlx::query_scalar("SELECT id FROM rules WHERE priority = $1 AND id <> $2")
                .bind(rule.priority)
                .bind(&rule.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_status)?;
        if let Some(other) = clash {
            return Err(invalid_one(
                "rule.priority",
                &format!("rule {other} already has priority {}", rule.priority),
            ));
        }
        let what = if before.is_some() { "update" } else { "create" };
        storage::save_entity(
            &mut tx,
            Entity::Rule,
            &rule.id,
            before.map(json),
            json(&rule),
            rule.active,
            rule.priority,
            what,
            &user,
            r.reason.trim(),
        )
        .await
        .map_err(db_status)?;
        tx.commit().await.map_err(db_status)?;
        metrics::counter!("routing_reference_edits_total", "entity" => "rule").increment(1);
        tracing::info!(entity = "rule", code = %rule.id, action = what, actor = %user, "reference data changed");
        let stamps = self.stamps(Entity::Rule).await?;
        Ok(Response::new(rule_message(&rule, stamps.get(&rule.id))))
    }

    async fn set_rule_active(
        &self,
        request: Request<pb::SetActiveRequest>,
    ) -> Result<Response<pb::Rule>, Status> {
        let user = writer(&request)?;
        let r = request.into_inner();
        let reference = self.reference().await?;
        let before = reference
            .rules
            .iter()
            .find(|x| x.id == r.code.trim())
            .ok_or_else(|| Status::not_found(format!("no rule {:?}", r.code)))?;
        let mut rule = before.clone();
        rule.active = r.active;
        let action = if r.active { "activate" } else { "deactivate" };
        self.save(
            Entity::Rule,
            &rule.id,
            Some(json(before)),
            json(&rule),
            rule.active,
            rule.priority,
            action,
            &user,
            r.reason.trim(),
        )
        .await?;
        let stamps = self.stamps(Entity::Rule).await?;
        Ok(Response::new(rule_message(&rule, stamps.get(&rule.id))))
    }

    async fn list_changes(
        &self,
        request: Request<pb::ListChangesRequest>,
    ) -> Result<Response<pb::ListChangesResponse>, Status> {
        let r = request.into_inner();
        if !r.entity.is_empty() && !["category", "body", "rule"].contains(&r.entity.as_str()) {
            return Err(invalid_one("entity", "category, body or rule"));
        }
        let limit = match r.limit {
            0 => 100,
            n => n.min(1000),
        };
        let mut conn = self.engine.pool.acquire().await.map_err(db_status)?;
        let rows = storage::list_changes(
            &mut conn,
            Some(r.entity.as_str()).filter(|s| !s.is_empty()),
            Some(r.code.as_str()).filter(|s| !s.is_empty()),
            i64::from(limit),
        )
        .await
        .map_err(db_status)?;
        Ok(Response::new(pb::ListChangesResponse {
            changes: rows
                .into_iter()
                .map(|c| pb::Change {
                    id: c.id,
                    entity: c.entity,
                    code: c.code,
                    action: c.action,
                    actor: c.actor,
                    reason: c.reason,
                    at: Some(timestamp(c.at)),
                    before_json: c.before.map(|v| v.to_string()).unwrap_or_default(),
                    after_json: c.after.map(|v| v.to_string()).unwrap_or_default(),
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;
    use tonic_types::StatusExt as _;

    #[test]
    fn invalid_status_names_fields() {
        let s = invalid(vec![FieldIssue::new("lead_executor", "unknown body")]);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("lead_executor"));
        assert_eq!(
            s.get_error_details()
                .bad_request()
                .unwrap()
                .field_violations[0]
                .field,
            "lead_executor"
        );
    }

    #[test]
    fn writers_need_a_verified_writer() {
        use bakylau_platform::auth::Role;
        let mut r = Request::new(());
        // A role header is not an identity any more.
        r.metadata_mut()
            .insert("x-bakylau-role", "registrar".parse().unwrap());
        assert_eq!(writer(&r).unwrap_err().code(), Code::Unauthenticated);
        let as_role = |role| {
            let mut r = Request::new(());
            r.extensions_mut().insert(Caller {
                subject: "aigerim".into(),
                role,
                body: None,
                source: None,
            });
            r
        };
        assert_eq!(
            writer(&as_role(Role::Analyst)).unwrap_err().code(),
            Code::PermissionDenied
        );
        assert_eq!(writer(&as_role(Role::Registrar)).unwrap(), "aigerim");
    }

    #[test]
    fn page_tokens_round_trip() {
        assert!(parse_page_token("garbage").is_err());
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::now_v7();
        let token = format!("{}_{}", at.timestamp_micros(), id);
        assert_eq!(parse_page_token(&token).unwrap(), Some((at, id)));
    }
}
