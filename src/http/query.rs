//! [`ApiQuery`]: axum's `Query`, with failures answered in the SPEC's error shape as a 422
//! `invalid_query` (a repeated or malformed parameter is the client's mistake, like a wrong
//! value), not the bare 400 axum gives (found by schemathesis).

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ErrorCode;
use super::ApiError;

/// `axum::extract::Query`, with rejections as 422 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            // The message names the parameter ("duplicate field `status`"), never our internals.
            Err(rejection) => Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidQuery,
                rejection.body_text(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Params {
        #[allow(dead_code)]
        status: Option<String>,
    }

    #[tokio::test]
    async fn a_repeated_parameter_is_a_422_naming_it() {
        let request = Request::get("/x?status=open&status=all").body(()).unwrap();
        let (mut parts, ()) = request.into_parts();
        let Err(error) = ApiQuery::<Params>::from_request_parts(&mut parts, &()).await else {
            panic!("a repeated parameter was accepted");
        };
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.code, ErrorCode::InvalidQuery);
        assert!(error.message.contains("status"), "{}", error.message);
    }
}
