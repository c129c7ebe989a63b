//! What is wrong with an input, field by field: the common shape of every 422 a use case
//! answers (`error.fields` in the response). Parsers collect every broken rule with
//! [`Problems`] and report them together, so a client fixes its request in one go.

use serde::Serialize;

/// One rule an input broke, named by the field the client sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: &'static str,
    pub problem: String,
}

/// Everything wrong with an input, at least one problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the request is not valid ({} problem(s))", .problems.len())]
pub struct InvalidInput {
    pub problems: Vec<FieldProblem>,
}

impl InvalidInput {
    pub fn single(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            problems: vec![FieldProblem {
                field,
                problem: problem.into(),
            }],
        }
    }
}

/// Collects problems while a whole input is checked.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldProblem>);

impl Problems {
    pub fn add(&mut self, field: &'static str, problem: impl Into<String>) {
        self.0.push(FieldProblem {
            field,
            problem: problem.into(),
        });
    }

    /// Keeps the value of a parse, or records why it failed.
    pub fn take<T>(&mut self, field: &'static str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|problem| self.add(field, problem)).ok()
    }

    /// The value built from the parts, or every problem recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, InvalidInput> {
        match (self.0.is_empty(), value()) {
            (true, Some(value)) => Ok(value),
            (true, None) => Err(InvalidInput::single("body", "is incomplete")),
            (false, _) => Err(InvalidInput { problems: self.0 }),
        }
    }
}
