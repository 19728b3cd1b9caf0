use crate::Component;
use crate::bindings::exports::mcp_edge::core::model_router::{
    Choice, Costs, Decision, DecisionInput, Engine, Failure, Guest, PowerMode, Preferences, Prices, Reason, Refusal,
};
use edge_core::model_router as core;

impl Guest for Component {
    fn decide(input: DecisionInput) -> Decision {
        let local = input.local;
        let input = core::Input {
            local: core::LocalFacts {
                available: local.available,
                prompt_tokens: local.prompt_tokens,
                context_length: local.context_length,
                tokens_per_second: local.tokens_per_second,
                prompt_tokens_per_second: local.prompt_tokens_per_second,
                queue_depth: local.queue_depth,
            },
            cloud_configured: input.cloud_configured,
            link_up: input.link_up,
            max_tokens: input.max_tokens,
            fallback_threshold_ms: input.fallback_threshold_ms,
            power: match input.power {
                PowerMode::Normal => core::PowerMode::Normal,
                PowerMode::Saver => core::PowerMode::Saver,
            },
            preferences: preferences_in(input.preferences),
            prices: prices_in(input.prices),
            tried: input.tried.into_iter().map(|a| (engine_in(a.engine), failure_in(a.failure))).collect(),
        };
        match core::decide(&input) {
            core::Decision::Use { engine, reason, first_token_deadline_ms, predicted_first_token_ms } => {
                let estimated_costs = core::estimated_costs(&input).map(|c| Costs { local: c.local, cloud: c.cloud });
                Decision::UseEngine(Choice { engine: engine_out(engine), reason: reason_out(reason), first_token_deadline_ms, predicted_first_token_ms, estimated_costs })
            }
            core::Decision::Refuse(refusal) => Decision::Refuse(match refusal {
                core::Refusal::NoModel => Refusal::NoModel,
                core::Refusal::PromptTooLong => Refusal::PromptTooLong,
                core::Refusal::CloudOffline => Refusal::CloudOffline,
                core::Refusal::NoEngineLeft => Refusal::NoEngineLeft,
            }),
        }
    }
}

fn engine_in(engine: Engine) -> core::Engine {
    match engine {
        Engine::Local => core::Engine::Local,
        Engine::Cloud => core::Engine::Cloud,
    }
}

fn preferences_in(p: Preferences) -> core::Preferences {
    core::Preferences {
        hinted: p.hinted.map(engine_in),
        cost_priority: p.cost_priority,
        speed_priority: p.speed_priority,
        intelligence_priority: p.intelligence_priority,
    }
}

fn prices_in(p: Prices) -> core::Prices {
    core::Prices { cloud_prompt_per_1k: p.cloud_prompt_per_1k, cloud_completion_per_1k: p.cloud_completion_per_1k, local_per_1k: p.local_per_1k }
}

fn engine_out(engine: core::Engine) -> Engine {
    match engine {
        core::Engine::Local => Engine::Local,
        core::Engine::Cloud => Engine::Cloud,
    }
}

fn failure_in(failure: Failure) -> core::Failure {
    match failure {
        Failure::Failed => core::Failure::Failed,
        Failure::SlowFirstToken => core::Failure::SlowFirstToken,
        Failure::ContextExceeded => core::Failure::ContextExceeded,
        Failure::Unreachable => core::Failure::Unreachable,
        Failure::StreamBroken => core::Failure::StreamBroken,
    }
}

fn reason_out(reason: core::Reason) -> Reason {
    match reason {
        core::Reason::LocalFirst => Reason::LocalFirst,
        core::Reason::NoLocalModel => Reason::NoLocalModel,
        core::Reason::PromptExceedsLocalContext => Reason::PromptExceedsLocalContext,
        core::Reason::AnswerExceedsLocalContext => Reason::AnswerExceedsLocalContext,
        core::Reason::LocalTooSlow => Reason::LocalTooSlow,
        core::Reason::PowerSaver => Reason::PowerSaver,
        core::Reason::LinkDown => Reason::LinkDown,
        core::Reason::ModelHint => Reason::ModelHint,
        core::Reason::IntelligencePriority => Reason::IntelligencePriority,
        core::Reason::CostPriority => Reason::CostPriority,
        core::Reason::LocalFailed => Reason::LocalFailed,
        core::Reason::LocalSlowFirstToken => Reason::LocalSlowFirstToken,
        core::Reason::CloudUnreachable => Reason::CloudUnreachable,
        core::Reason::CloudStreamBroken => Reason::CloudStreamBroken,
        core::Reason::CloudFailed => Reason::CloudFailed,
    }
}
