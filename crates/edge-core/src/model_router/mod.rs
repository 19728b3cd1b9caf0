//! Which engine serves a completion: the local model or the cloud, and why.
//!
//! One pure function of the facts the host gathers before each attempt (the
//! prompt's exact token count in the local model, its context, the requested
//! answer length, the local engine's measured speed and queue, the link, the
//! power mode, the caller's preferences, and the attempts that already
//! failed). The host runs the attempt and calls again when it fails; every
//! answer carries the reason.

#[cfg(test)]
mod tests;

/// An engine kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Local,
    Cloud,
}

/// How an earlier attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Any other failure (load, generation, a refusal).
    Failed,
    /// No first token within the fallback threshold.
    SlowFirstToken,
    /// The prompt did not fit the local context.
    ContextExceeded,
    /// The cloud could not be reached (connection, timeout, 429/5xx after retries).
    Unreachable,
    /// The cloud's stream stopped before its end.
    StreamBroken,
}

/// The device's power state: in `Saver`, the cloud is preferred when it is reachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerMode {
    Normal,
    Saver,
}

/// What the host knows about its local engine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalFacts {
    /// A local model is configured and loadable.
    pub available: bool,
    /// The prompt's exact token count in the local model (chat template included).
    pub prompt_tokens: Option<u32>,
    /// Tokens (prompt + answer) the local context holds.
    pub context_length: Option<u32>,
    /// Measured generation speed, tokens per second (none before the first answer).
    pub tokens_per_second: Option<f64>,
    /// Measured prompt processing speed, tokens per second.
    pub prompt_tokens_per_second: Option<f64>,
    /// Requests running or waiting ahead of this one.
    pub queue_depth: u32,
}

/// What the caller prefers (MCP sampling's `modelPreferences`). Weighed only
/// on the first attempt and only when both engines can serve it: a hard limit
/// (the context, the link, a missing model) always wins over a preference.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Preferences {
    /// The engine a model hint named (the host matches hint names against the configured models).
    pub hinted: Option<Engine>,
    /// How much a low cost matters, 0 to 1; absent counts as 0.
    pub cost_priority: Option<f64>,
    /// How much a quick answer matters, 0 to 1; absent counts as 0.
    pub speed_priority: Option<f64>,
    /// How much a capable model matters, 0 to 1; absent counts as 0.
    pub intelligence_priority: Option<f64>,
}

/// The priority that stands above the other two, if one does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leading {
    Cost,
    Speed,
    Intelligence,
}

impl Preferences {
    fn leading(&self) -> Option<Leading> {
        let [cost, speed, smart] = [self.cost_priority, self.speed_priority, self.intelligence_priority].map(|p| p.unwrap_or(0.0));
        if cost > speed && cost > smart {
            Some(Leading::Cost)
        } else if smart > cost && smart > speed {
            Some(Leading::Intelligence)
        } else if speed > cost && speed > smart {
            Some(Leading::Speed)
        } else {
            None
        }
    }
}

/// What tokens cost, in the operator's own unit (say cents) per 1000 tokens
/// ([models] `*_cost_per_1k_*`); 0 where unset. Weighed when the caller puts
/// cost first.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Prices {
    /// The cloud's price of 1000 prompt tokens.
    pub cloud_prompt_per_1k: f64,
    /// The cloud's price of 1000 generated tokens.
    pub cloud_completion_per_1k: f64,
    /// The local model's cost of 1000 tokens, prompt or generated (energy, wear).
    pub local_per_1k: f64,
}

impl Prices {
    fn any(&self) -> bool {
        self.cloud_prompt_per_1k > 0.0 || self.cloud_completion_per_1k > 0.0 || self.local_per_1k > 0.0
    }
}

/// What each engine would cost for one request at most (the prompt and
/// `max_tokens` generated), by the configured prices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Costs {
    pub local: f64,
    pub cloud: f64,
}

/// The request's worst-case cost on each engine, or None when no price is
/// set. The prompt is counted in the local model's tokens (the cloud's
/// tokenizer is not known here): an estimate for the cloud, exact locally.
pub fn estimated_costs(input: &Input) -> Option<Costs> {
    let p = input.prices;
    if !p.any() {
        return None;
    }
    let prompt = f64::from(input.local.prompt_tokens.unwrap_or(0)) / 1000.0;
    let answer = f64::from(input.max_tokens) / 1000.0;
    Some(Costs { local: (prompt + answer) * p.local_per_1k, cloud: prompt * p.cloud_prompt_per_1k + answer * p.cloud_completion_per_1k })
}

/// Everything one decision looks at.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub local: LocalFacts,
    /// A cloud endpoint is configured.
    pub cloud_configured: bool,
    /// The last contact with the cloud succeeded (or there was none yet).
    pub link_up: bool,
    /// Tokens the answer may take.
    pub max_tokens: u32,
    /// The local engine's deadline for its first token when the cloud can take over.
    pub fallback_threshold_ms: Option<u32>,
    pub power: PowerMode,
    /// What the caller prefers; the default prefers nothing.
    pub preferences: Preferences,
    /// What tokens cost on each engine; all 0 leaves cost to the local model.
    pub prices: Prices,
    /// Earlier attempts of this request, in order.
    pub tried: Vec<(Engine, Failure)>,
}

/// Why an engine was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The local model can serve it: the default.
    LocalFirst,
    /// No local model is configured (or it cannot load).
    NoLocalModel,
    /// The prompt alone fills the local context.
    PromptExceedsLocalContext,
    /// Prompt + requested answer exceed the local context; the cloud can give the whole answer.
    AnswerExceedsLocalContext,
    /// The local queue and speed predict a first token later than the threshold.
    LocalTooSlow,
    /// Power saver: the reachable cloud spares the device.
    PowerSaver,
    /// The cloud's link is down: the local model serves.
    LinkDown,
    /// A model hint of the caller named this engine's model (or the engine).
    ModelHint,
    /// The caller put intelligence first: the (bigger) cloud model.
    IntelligencePriority,
    /// The caller put cost first: the cheaper engine by the configured prices
    /// (the local model when they tie, as they do when none is set).
    CostPriority,
    /// Fallbacks after a failed attempt.
    LocalFailed,
    LocalSlowFirstToken,
    CloudUnreachable,
    CloudStreamBroken,
    CloudFailed,
}

/// Why no engine can serve the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing is configured at all.
    NoModel,
    /// Only the local model is configured, and the prompt does not fit its context.
    PromptTooLong,
    /// The only suitable engine is the cloud, and its link is down: the request can wait for it.
    CloudOffline,
    /// Every suitable engine was tried and failed.
    NoEngineLeft,
}

/// The decision for the next attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    Use {
        engine: Engine,
        reason: Reason,
        /// Abandon the (local) attempt when no token came by then, ms.
        first_token_deadline_ms: Option<u32>,
        /// The local engine's predicted time to first token, ms, when it could be estimated.
        predicted_first_token_ms: Option<f64>,
    },
    Refuse(Refusal),
}

/// The engine for the next attempt of a request.
pub fn decide(input: &Input) -> Decision {
    match input.tried.last() {
        None => first_attempt(input),
        Some(&(Engine::Local, failure)) => after_local_failure(input, failure),
        Some(&(Engine::Cloud, failure)) => after_cloud_failure(input, failure),
    }
}

/// The local engine's predicted wait for its first token: the requests ahead
/// generating their answers, then this prompt's processing.
pub fn predicted_first_token_ms(local: &LocalFacts, max_tokens: u32) -> Option<f64> {
    let tps = local.tokens_per_second.filter(|t| *t > 0.0)?;
    let queue = f64::from(local.queue_depth) * f64::from(max_tokens) * 1000.0 / tps;
    let prompt = match (local.prompt_tokens, local.prompt_tokens_per_second.filter(|t| *t > 0.0)) {
        (Some(tokens), Some(rate)) => f64::from(tokens) * 1000.0 / rate,
        _ => 0.0,
    };
    Some(queue + prompt)
}

fn prompt_fits(local: &LocalFacts) -> bool {
    match (local.prompt_tokens, local.context_length) {
        (Some(p), Some(c)) => p < c,
        _ => true,
    }
}

fn answer_fits(local: &LocalFacts, max_tokens: u32) -> bool {
    match (local.prompt_tokens, local.context_length) {
        (Some(p), Some(c)) => u64::from(p) + u64::from(max_tokens) <= u64::from(c),
        _ => true,
    }
}

fn use_local(input: &Input, reason: Reason, cloud_can_take_over: bool) -> Decision {
    Decision::Use {
        engine: Engine::Local,
        reason,
        first_token_deadline_ms: if cloud_can_take_over { input.fallback_threshold_ms } else { None },
        predicted_first_token_ms: predicted_first_token_ms(&input.local, input.max_tokens),
    }
}

fn use_cloud(reason: Reason, predicted: Option<f64>) -> Decision {
    Decision::Use { engine: Engine::Cloud, reason, first_token_deadline_ms: None, predicted_first_token_ms: predicted }
}

fn first_attempt(input: &Input) -> Decision {
    let local = &input.local;
    let cloud = input.cloud_configured && input.link_up;
    let predicted = predicted_first_token_ms(local, input.max_tokens);
    if !local.available {
        return if cloud {
            use_cloud(Reason::NoLocalModel, None)
        } else if input.cloud_configured {
            Decision::Refuse(Refusal::CloudOffline)
        } else {
            Decision::Refuse(Refusal::NoModel)
        };
    }
    if !prompt_fits(local) {
        return if cloud {
            use_cloud(Reason::PromptExceedsLocalContext, predicted)
        } else if input.cloud_configured {
            Decision::Refuse(Refusal::CloudOffline)
        } else {
            Decision::Refuse(Refusal::PromptTooLong)
        };
    }
    if cloud {
        if !answer_fits(local, input.max_tokens) {
            return use_cloud(Reason::AnswerExceedsLocalContext, predicted);
        }
        match input.preferences.hinted {
            Some(Engine::Cloud) => return use_cloud(Reason::ModelHint, predicted),
            Some(Engine::Local) => return use_local(input, Reason::ModelHint, true),
            None => {}
        }
        if input.power == PowerMode::Saver {
            return use_cloud(Reason::PowerSaver, predicted);
        }
        match input.preferences.leading() {
            Some(Leading::Intelligence) => return use_cloud(Reason::IntelligencePriority, predicted),
            Some(Leading::Cost) => {
                if estimated_costs(input).is_some_and(|c| c.cloud < c.local) {
                    return use_cloud(Reason::CostPriority, predicted);
                }
                // Waiting is cheaper than paying: no deadline, and a slow prediction does not send it away.
                return use_local(input, Reason::CostPriority, false);
            }
            // Speed is what the prediction and the deadline below already serve.
            Some(Leading::Speed) | None => {}
        }
        if let (Some(threshold), Some(wait)) = (input.fallback_threshold_ms, predicted) {
            if wait > f64::from(threshold) {
                return use_cloud(Reason::LocalTooSlow, predicted);
            }
        }
        return use_local(input, Reason::LocalFirst, true);
    }
    let reason = if input.cloud_configured { Reason::LinkDown } else { Reason::LocalFirst };
    use_local(input, reason, false)
}

fn after_local_failure(input: &Input, failure: Failure) -> Decision {
    let cloud_tried = input.tried.iter().any(|(e, _)| *e == Engine::Cloud);
    if input.cloud_configured && !cloud_tried {
        if !input.link_up {
            return Decision::Refuse(Refusal::CloudOffline);
        }
        let reason = match failure {
            Failure::SlowFirstToken => Reason::LocalSlowFirstToken,
            Failure::ContextExceeded => Reason::PromptExceedsLocalContext,
            _ => Reason::LocalFailed,
        };
        return use_cloud(reason, None);
    }
    Decision::Refuse(Refusal::NoEngineLeft)
}

fn after_cloud_failure(input: &Input, failure: Failure) -> Decision {
    // A local attempt that missed only its deadline may serve now that the cloud failed; one that failed otherwise would fail again.
    let local_hopeless = input.tried.iter().any(|(e, f)| *e == Engine::Local && *f != Failure::SlowFirstToken);
    if input.local.available && prompt_fits(&input.local) && !local_hopeless {
        let reason = match failure {
            Failure::StreamBroken => Reason::CloudStreamBroken,
            Failure::Unreachable => Reason::CloudUnreachable,
            _ => Reason::CloudFailed,
        };
        return use_local(input, reason, false);
    }
    if failure == Failure::Unreachable && !local_hopeless {
        // No local model, or the prompt does not fit it: only the cloud can serve, and it is unreachable.
        return Decision::Refuse(Refusal::CloudOffline);
    }
    Decision::Refuse(Refusal::NoEngineLeft)
}
