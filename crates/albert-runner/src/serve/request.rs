//! The JSON bodies `albert serve` accepts, decoded and checked before anything is queued: bytes
//! that are not JSON are a syntax error (400), JSON of the wrong shape, empty or over the limits
//! is invalid (422). Pure functions of the bytes, so they are unit-tested and fuzzed alone.

use serde_json::Value;

use crate::pipeline::{Pooling, Task};

/// What one request asks the model to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// `POST /v1/classify`: the best label (or the `top_k` best) of each input.
    Classify {
        /// `(text, pair)` inputs.
        inputs: Vec<(String, Option<String>)>,
        /// With `top_k`, each result is a list of that many labels.
        top_k: Option<usize>,
    },
    /// `POST /v1/fill-mask`: candidates at each `[MASK]`.
    FillMask {
        /// The texts.
        texts: Vec<String>,
        /// Candidates per mask.
        top_k: usize,
        /// `inputs` was one string (the answer is that text's result, not a list of them).
        single: bool,
    },
    /// `POST /v1/answer`: an answer span per question.
    Answer {
        /// `(question, context)` items.
        items: Vec<(String, String)>,
        /// The body was one `{question, context}` object.
        single: bool,
    },
    /// `POST /v1/tag`: a tag per word of each text.
    Tag {
        /// The texts.
        texts: Vec<String>,
        /// `inputs` was one string (the answer is that text's tags, not a list of them).
        single: bool,
    },
    /// `POST /v1/embed`: a sentence vector per input.
    Embed {
        /// `(text, pair)` inputs.
        inputs: Vec<(String, Option<String>)>,
        /// How token states are pooled.
        pooling: Pooling,
        /// Unit-length vectors.
        normalize: bool,
    },
}

impl RequestError {
    /// The message.
    pub fn message(self) -> String {
        match self {
            RequestError::Syntax(m) | RequestError::Invalid(m) => m,
        }
    }
}

impl Work {
    /// The task (route) the work belongs to.
    pub fn task(&self) -> Task {
        match self {
            Work::Classify { .. } => Task::Classify,
            Work::FillMask { .. } => Task::FillMask,
            Work::Answer { .. } => Task::Answer,
            Work::Tag { .. } => Task::Tag,
            Work::Embed { .. } => Task::Embed,
        }
    }

    /// How many sequences it adds to a batch.
    pub fn size(&self) -> usize {
        match self {
            Work::Classify { inputs, .. } | Work::Embed { inputs, .. } => inputs.len(),
            Work::FillMask { texts, .. } | Work::Tag { texts, .. } => texts.len(),
            Work::Answer { items, .. } => items.len(),
        }
    }
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Not JSON (HTTP 400).
    Syntax(String),
    /// JSON, but not a valid request (HTTP 422).
    Invalid(String),
}

/// Limits a request must respect.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// Inputs per request.
    pub max_inputs: usize,
    /// Largest `top_k`.
    pub max_top_k: usize,
}

/// `"inputs"` as one string (`single`) or a list of strings.
fn one_or_many_texts(inputs: Option<&Value>) -> Result<(Vec<String>, bool), RequestError> {
    match inputs {
        Some(Value::String(s)) => Ok((vec![s.clone()], true)),
        Some(Value::Array(items)) => Ok((
            items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| invalid(format!("inputs[{i}] must be a string")))
                })
                .collect::<Result<_, _>>()?,
            false,
        )),
        Some(_) => Err(invalid("\"inputs\" must be a string or a list of strings")),
        None => Err(invalid("missing \"inputs\"")),
    }
}

/// Decodes the body of a request to the `task` route.
pub fn decode(task: Task, body: &[u8], limits: RequestLimits) -> Result<Work, RequestError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| RequestError::Syntax(format!("invalid JSON: {e}")))?;
    let Value::Object(obj) = &v else {
        return Err(invalid("the body must be a JSON object"));
    };
    let work = match task {
        Task::Classify => Work::Classify {
            inputs: text_inputs(obj.get("inputs"))?,
            top_k: top_k(obj.get("top_k"), limits)?,
        },
        Task::FillMask => {
            let (texts, single) = one_or_many_texts(obj.get("inputs"))?;
            Work::FillMask {
                texts,
                top_k: top_k(obj.get("top_k"), limits)?.unwrap_or(5),
                single,
            }
        }
        Task::Answer => match obj.get("inputs") {
            None => Work::Answer {
                items: vec![question_context(&v, "the body")?],
                single: true,
            },
            Some(Value::Array(items)) => Work::Answer {
                items: items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| question_context(x, &format!("inputs[{i}]")))
                    .collect::<Result<_, _>>()?,
                single: false,
            },
            Some(_) => {
                return Err(invalid(
                    "\"inputs\" must be a list of {\"question\", \"context\"} objects",
                ));
            }
        },
        Task::Tag => {
            let (texts, single) = one_or_many_texts(obj.get("inputs"))?;
            Work::Tag { texts, single }
        }
        Task::Embed => Work::Embed {
            inputs: text_inputs(obj.get("inputs"))?,
            pooling: match obj.get("pooling") {
                None | Some(Value::Null) => Pooling::Mean,
                Some(Value::String(s)) if s == "mean" => Pooling::Mean,
                Some(Value::String(s)) if s == "cls" => Pooling::Cls,
                Some(_) => return Err(invalid("\"pooling\" must be \"mean\" or \"cls\"")),
            },
            normalize: match obj.get("normalize") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(invalid("\"normalize\" must be true or false")),
            },
        },
    };
    let n = work.size();
    if n == 0 {
        return Err(invalid("no inputs"));
    }
    if n > limits.max_inputs {
        return Err(invalid(format!(
            "{n} inputs in one request; the server takes at most {} (--max-inputs)",
            limits.max_inputs
        )));
    }
    Ok(work)
}

fn invalid(message: impl Into<String>) -> RequestError {
    RequestError::Invalid(message.into())
}

/// `inputs` of classify/embed: one input or a list; an input is `"text"`, `["text", "pair"]` or
/// `{"text": …, "text_pair": …}`.
fn text_inputs(v: Option<&Value>) -> Result<Vec<(String, Option<String>)>, RequestError> {
    match v {
        None => Err(invalid("missing \"inputs\"")),
        Some(Value::String(s)) => Ok(vec![(s.clone(), None)]),
        Some(Value::Object(_)) => Ok(vec![text_input(v.unwrap_or(&Value::Null), "inputs")?]),
        Some(Value::Array(items)) => {
            // `["text", "pair"]` alone is a list of two texts, as in transformers' pipelines;
            // a pair is `[["text", "pair"]]`.
            items
                .iter()
                .enumerate()
                .map(|(i, x)| text_input(x, &format!("inputs[{i}]")))
                .collect()
        }
        Some(_) => Err(invalid(
            "\"inputs\" must be a string, a {\"text\", \"text_pair\"} object or a list of them",
        )),
    }
}

/// One `(text, pair)` input from `"text"`, `["text", "pair"]` or `{"text", "text_pair"}`
/// (`at` names it in errors); also the JSON-line form of `albert classify` / `albert embed`.
pub(crate) fn text_input(v: &Value, at: &str) -> Result<(String, Option<String>), RequestError> {
    match v {
        Value::String(s) => Ok((s.clone(), None)),
        Value::Array(pair) => match pair.as_slice() {
            [Value::String(a), Value::String(b)] => Ok((a.clone(), Some(b.clone()))),
            _ => Err(invalid(format!(
                "{at} must be \"text\" or [\"text\", \"pair\"] (two strings)"
            ))),
        },
        Value::Object(o) => {
            let text = o
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid(format!("{at} needs a \"text\" string")))?;
            let pair = match o.get("text_pair") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(p.clone()),
                Some(_) => return Err(invalid(format!("{at}: \"text_pair\" must be a string"))),
            };
            Ok((text.to_string(), pair))
        }
        _ => Err(invalid(format!(
            "{at} must be a string, [\"text\", \"pair\"] or {{\"text\", \"text_pair\"}}"
        ))),
    }
}

fn question_context(v: &Value, at: &str) -> Result<(String, String), RequestError> {
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("{at} needs a \"{name}\" string")))
    };
    let (question, context) = (field("question")?, field("context")?);
    if context.trim().is_empty() {
        return Err(invalid(format!("{at}: \"context\" is empty")));
    }
    Ok((question, context))
}

fn top_k(v: Option<&Value>, limits: RequestLimits) -> Result<Option<usize>, RequestError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(k) if k >= 1 && k <= limits.max_top_k as u64 => Ok(Some(k as usize)),
            _ => Err(invalid(format!(
                "\"top_k\" must be an integer from 1 to {}",
                limits.max_top_k
            ))),
        },
        Some(_) => Err(invalid("\"top_k\" must be an integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RequestLimits = RequestLimits {
        max_inputs: 4,
        max_top_k: 10,
    };

    fn ok(task: Task, body: &str) -> Work {
        decode(task, body.as_bytes(), LIMITS).expect(body)
    }

    fn err(task: Task, body: &str) -> RequestError {
        decode(task, body.as_bytes(), LIMITS).expect_err(body)
    }

    #[test]
    fn classify_takes_the_pipelines_input_forms() {
        assert_eq!(
            ok(
                Task::Classify,
                r#"{"inputs": ["a", ["b", "c"], {"text": "d", "text_pair": "e"}], "top_k": 2}"#
            ),
            Work::Classify {
                inputs: vec![
                    ("a".into(), None),
                    ("b".into(), Some("c".into())),
                    ("d".into(), Some("e".into()))
                ],
                top_k: Some(2)
            }
        );
        assert_eq!(
            ok(Task::Classify, r#"{"inputs": "a"}"#),
            Work::Classify {
                inputs: vec![("a".into(), None)],
                top_k: None
            }
        );
    }

    #[test]
    fn bad_bodies_are_refused_with_the_right_kind() {
        assert!(matches!(
            err(Task::Classify, "{oops"),
            RequestError::Syntax(_)
        ));
        assert!(matches!(err(Task::Classify, ""), RequestError::Syntax(_)));
        for (task, body, says) in [
            (Task::Classify, "[1]", "JSON object"),
            (Task::Classify, "{}", "missing"),
            (Task::Classify, r#"{"inputs": []}"#, "no inputs"),
            (Task::Classify, r#"{"inputs": 3}"#, "must be"),
            (Task::Classify, r#"{"inputs": [["a"]]}"#, "two strings"),
            (
                Task::Classify,
                r#"{"inputs": ["a","b","c","d","e"]}"#,
                "at most 4",
            ),
            (Task::Classify, r#"{"inputs": "a", "top_k": 0}"#, "top_k"),
            (Task::Classify, r#"{"inputs": "a", "top_k": 11}"#, "top_k"),
            (Task::Classify, r#"{"inputs": "a", "top_k": "2"}"#, "top_k"),
            (Task::FillMask, r#"{"inputs": [1]}"#, "inputs[0]"),
            (Task::Answer, r#"{"question": "q"}"#, "context"),
            (
                Task::Answer,
                r#"{"question": "q", "context": " "}"#,
                "empty",
            ),
            (
                Task::Embed,
                r#"{"inputs": "a", "pooling": "max"}"#,
                "pooling",
            ),
            (
                Task::Embed,
                r#"{"inputs": "a", "normalize": 1}"#,
                "normalize",
            ),
        ] {
            match err(task, body) {
                RequestError::Invalid(m) => assert!(m.contains(says), "{body}: {m}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn answer_and_fill_mask_take_one_or_many() {
        assert_eq!(
            ok(Task::Answer, r#"{"question": "q", "context": "c"}"#),
            Work::Answer {
                items: vec![("q".into(), "c".into())],
                single: true
            }
        );
        assert_eq!(
            ok(
                Task::Answer,
                r#"{"inputs": [{"question": "q", "context": "c"}]}"#
            )
            .size(),
            1
        );
        assert_eq!(
            ok(
                Task::FillMask,
                r#"{"inputs": ["a [MASK]", "b [MASK]"], "top_k": 3}"#
            ),
            Work::FillMask {
                texts: vec!["a [MASK]".into(), "b [MASK]".into()],
                top_k: 3,
                single: false
            }
        );
    }
}
