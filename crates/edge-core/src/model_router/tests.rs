use super::*;

fn local(prompt: u32, context: u32) -> LocalFacts {
    LocalFacts { available: true, prompt_tokens: Some(prompt), context_length: Some(context), ..LocalFacts::default() }
}

fn input(local: LocalFacts) -> Input {
    Input {
        local,
        cloud_configured: true,
        link_up: true,
        max_tokens: 100,
        fallback_threshold_ms: Some(500),
        power: PowerMode::Normal,
        preferences: Preferences::default(),
        prices: Prices::default(),
        tried: Vec::new(),
    }
}

fn engine_and_reason(d: Decision) -> (Engine, Reason) {
    match d {
        Decision::Use { engine, reason, .. } => (engine, reason),
        Decision::Refuse(r) => panic!("expected an engine, got a refusal {r:?}"),
    }
}

#[test]
fn local_first_with_the_threshold_as_its_deadline_when_a_cloud_can_take_over() {
    let d = decide(&input(local(20, 2048)));
    assert_eq!(d, Decision::Use { engine: Engine::Local, reason: Reason::LocalFirst, first_token_deadline_ms: Some(500), predicted_first_token_ms: None });
}

#[test]
fn local_without_a_deadline_when_no_cloud_is_configured() {
    let mut i = input(local(20, 2048));
    i.cloud_configured = false;
    assert_eq!(d_deadline(decide(&i)), None);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
}

fn d_deadline(d: Decision) -> Option<u32> {
    match d {
        Decision::Use { first_token_deadline_ms, .. } => first_token_deadline_ms,
        Decision::Refuse(_) => None,
    }
}

#[test]
fn the_exact_prompt_count_against_the_context_picks_the_cloud_at_the_boundary() {
    // A prompt of context - 1 tokens fits (one token of answer); one of exactly the context does not.
    let mut i = input(local(511, 512));
    i.max_tokens = 1;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
    i.local.prompt_tokens = Some(512);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::PromptExceedsLocalContext));
}

#[test]
fn prompt_plus_requested_answer_beyond_the_context_goes_to_the_cloud_and_stays_local_without_one() {
    let mut i = input(local(400, 512));
    i.max_tokens = 112;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
    i.max_tokens = 113;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::AnswerExceedsLocalContext));
    i.cloud_configured = false;
    // Without a cloud the local model answers what fits (its finish reason says "length").
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
}

#[test]
fn a_prompt_too_long_with_no_cloud_is_refused() {
    let mut i = input(local(600, 512));
    i.cloud_configured = false;
    assert_eq!(decide(&i), Decision::Refuse(Refusal::PromptTooLong));
}

#[test]
fn queue_depth_and_measured_speed_against_the_threshold() {
    let mut facts = local(50, 2048);
    facts.tokens_per_second = Some(100.0); // 100 tokens of answer: 1000 ms per request ahead
    facts.prompt_tokens_per_second = Some(500.0); // 50 prompt tokens: 100 ms
    let mut i = input(facts);
    i.fallback_threshold_ms = Some(500);
    let d = decide(&i);
    assert_eq!(engine_and_reason(d), (Engine::Local, Reason::LocalFirst));
    assert_eq!(d, Decision::Use { engine: Engine::Local, reason: Reason::LocalFirst, first_token_deadline_ms: Some(500), predicted_first_token_ms: Some(100.0) });
    i.local.queue_depth = 1; // 1000 + 100 ms > 500 ms
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::LocalTooSlow));
    i.fallback_threshold_ms = Some(1200);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
    i.fallback_threshold_ms = None; // no threshold: never predicted too slow
    i.local.queue_depth = 50;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
}

#[test]
fn a_slow_prediction_with_the_link_down_stays_local() {
    let mut facts = local(50, 2048);
    facts.tokens_per_second = Some(10.0);
    facts.queue_depth = 3;
    let mut i = input(facts);
    i.link_up = false;
    let d = decide(&i);
    assert_eq!(engine_and_reason(d), (Engine::Local, Reason::LinkDown));
    assert_eq!(d_deadline(d), None, "no deadline: nothing could take over");
}

#[test]
fn power_saver_prefers_a_reachable_cloud() {
    let mut i = input(local(20, 2048));
    i.power = PowerMode::Saver;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::PowerSaver));
    i.link_up = false;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LinkDown));
}

#[test]
fn no_local_model_goes_to_the_cloud_or_waits_for_it() {
    let mut i = input(LocalFacts::default());
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::NoLocalModel));
    i.link_up = false;
    assert_eq!(decide(&i), Decision::Refuse(Refusal::CloudOffline));
    i.cloud_configured = false;
    assert_eq!(decide(&i), Decision::Refuse(Refusal::NoModel));
}

#[test]
fn a_prompt_only_the_offline_cloud_can_take_waits_for_it() {
    let mut i = input(local(600, 512));
    i.link_up = false;
    assert_eq!(decide(&i), Decision::Refuse(Refusal::CloudOffline));
}

#[test]
fn local_failures_fall_back_to_the_cloud_once() {
    let mut i = input(local(20, 2048));
    i.tried = vec![(Engine::Local, Failure::SlowFirstToken)];
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::LocalSlowFirstToken));
    i.tried = vec![(Engine::Local, Failure::Failed)];
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::LocalFailed));
    i.tried = vec![(Engine::Local, Failure::ContextExceeded)];
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::PromptExceedsLocalContext));
    i.tried = vec![(Engine::Local, Failure::SlowFirstToken), (Engine::Cloud, Failure::Failed), (Engine::Local, Failure::Failed)];
    assert_eq!(decide(&i), Decision::Refuse(Refusal::NoEngineLeft));
    i.cloud_configured = false;
    i.tried = vec![(Engine::Local, Failure::Failed)];
    assert_eq!(decide(&i), Decision::Refuse(Refusal::NoEngineLeft));
}

#[test]
fn cloud_failures_fall_back_to_the_local_model_with_the_cause() {
    let mut i = input(local(20, 2048));
    i.tried = vec![(Engine::Cloud, Failure::StreamBroken)];
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::CloudStreamBroken));
    assert_eq!(d_deadline(decide(&i)), None, "the local model is the last resort: no deadline");
    i.tried = vec![(Engine::Cloud, Failure::Unreachable)];
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::CloudUnreachable));
    i.tried = vec![(Engine::Cloud, Failure::Failed)];
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::CloudFailed));
    // A local model that missed only its deadline gets its second chance.
    i.tried = vec![(Engine::Local, Failure::SlowFirstToken), (Engine::Cloud, Failure::Unreachable)];
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::CloudUnreachable));
    // One that failed otherwise does not.
    i.tried = vec![(Engine::Local, Failure::Failed), (Engine::Cloud, Failure::Unreachable)];
    assert_eq!(decide(&i), Decision::Refuse(Refusal::NoEngineLeft));
}

#[test]
fn an_unreachable_cloud_that_alone_could_serve_means_wait_for_the_link() {
    let mut i = input(local(600, 512));
    i.tried = vec![(Engine::Cloud, Failure::Unreachable)];
    assert_eq!(decide(&i), Decision::Refuse(Refusal::CloudOffline));
    i.tried = vec![(Engine::Cloud, Failure::Failed)];
    assert_eq!(decide(&i), Decision::Refuse(Refusal::NoEngineLeft));
    let mut none = input(LocalFacts::default());
    none.tried = vec![(Engine::Cloud, Failure::Unreachable)];
    assert_eq!(decide(&none), Decision::Refuse(Refusal::CloudOffline));
}

#[test]
fn the_prediction_is_absent_before_any_measurement_and_ignores_zero_speeds() {
    let mut facts = local(50, 2048);
    assert_eq!(predicted_first_token_ms(&facts, 10), None);
    facts.tokens_per_second = Some(0.0);
    assert_eq!(predicted_first_token_ms(&facts, 10), None);
    facts.tokens_per_second = Some(20.0);
    facts.queue_depth = 2;
    assert_eq!(predicted_first_token_ms(&facts, 10), Some(1000.0));
}

fn prefer(cost: f64, speed: f64, intelligence: f64) -> Preferences {
    Preferences { hinted: None, cost_priority: Some(cost), speed_priority: Some(speed), intelligence_priority: Some(intelligence) }
}

#[test]
fn a_model_hint_picks_its_engine_when_both_can_serve() {
    let mut i = input(local(20, 2048));
    i.preferences.hinted = Some(Engine::Cloud);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::ModelHint));
    i.preferences.hinted = Some(Engine::Local);
    // The hint beats a leading intelligence priority, and the cloud still takes over a missed deadline.
    i.preferences.intelligence_priority = Some(1.0);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::ModelHint));
    assert_eq!(d_deadline(decide(&i)), Some(500));
}

#[test]
fn a_hint_does_not_beat_a_hard_limit() {
    let mut i = input(local(20, 2048));
    i.preferences.hinted = Some(Engine::Cloud);
    i.link_up = false;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LinkDown));
    let mut i = input(local(400, 512));
    i.max_tokens = 200;
    i.preferences.hinted = Some(Engine::Local);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::AnswerExceedsLocalContext));
}

#[test]
fn the_leading_priority_weighs_local_against_cloud() {
    let mut i = input(local(20, 2048));
    i.preferences = prefer(0.2, 0.3, 0.9);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::IntelligencePriority));
    i.preferences = prefer(0.9, 0.3, 0.2);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::CostPriority));
    assert_eq!(d_deadline(decide(&i)), None, "cost first: the local model may take its time");
    // Speed first, or no priority above the others: the default rule.
    for p in [prefer(0.1, 0.9, 0.2), prefer(0.5, 0.2, 0.5), Preferences::default()] {
        i.preferences = p;
        assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
    }
}

#[test]
fn cost_first_keeps_a_slow_local_model_and_speed_first_does_not() {
    let mut i = input(LocalFacts { tokens_per_second: Some(10.0), queue_depth: 2, ..local(20, 2048) });
    i.preferences = prefer(0.8, 0.1, 0.1);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::CostPriority));
    i.preferences = prefer(0.1, 0.8, 0.1);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::LocalTooSlow));
}

#[test]
fn power_saver_beats_a_cost_priority_but_not_a_hint() {
    let mut i = input(local(20, 2048));
    i.power = PowerMode::Saver;
    i.preferences = prefer(1.0, 0.0, 0.0);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::PowerSaver));
    i.preferences.hinted = Some(Engine::Local);
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::ModelHint));
}

#[test]
fn cost_first_takes_the_cheaper_engine_by_its_prices_and_local_on_a_tie() {
    let mut i = input(local(1000, 4096));
    i.preferences.cost_priority = Some(1.0);
    assert_eq!(estimated_costs(&i), None, "no price set");
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::CostPriority));
    // 1000 prompt + 100 answer tokens: the cloud 1.0 * 0.5 + 0.1 * 2.0 = 0.7; local 1.1 * 1.0 = 1.1.
    i.prices = Prices { cloud_prompt_per_1k: 0.5, cloud_completion_per_1k: 2.0, local_per_1k: 1.0 };
    let c = estimated_costs(&i).unwrap();
    assert!((c.cloud - 0.7).abs() < 1e-9 && (c.local - 1.1).abs() < 1e-9, "{c:?}");
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Cloud, Reason::CostPriority));
    // The local model cheaper: it serves, without a deadline (waiting is cheaper than paying).
    i.prices.local_per_1k = 0.1;
    assert_eq!(decide(&i), Decision::Use { engine: Engine::Local, reason: Reason::CostPriority, first_token_deadline_ms: None, predicted_first_token_ms: None });
    // Prices weigh only when cost leads: the default rule stays local first.
    i.prices.local_per_1k = 1.0;
    i.preferences.cost_priority = None;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LocalFirst));
    // And never over a hard limit: an unreachable cloud is not cheaper.
    i.preferences.cost_priority = Some(1.0);
    i.link_up = false;
    assert_eq!(engine_and_reason(decide(&i)), (Engine::Local, Reason::LinkDown));
}
