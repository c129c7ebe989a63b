//! JSON in and errors out: the [`ApiJson`] extractor, whose rejections are SPEC-shaped errors,
//! and the middleware that gives any bare error response (404, 405, 413 from a layer) the same
//! JSON shape.
//!
//! [`ApiJson`] is the only extractor that reads a body, so it is where the body limit holds: a
//! body is read up to [`BODY_LIMIT_BYTES`] and refused (413) past it, however it is framed (the
//! guard already refused a declared length past the limit before any byte was read).

use crate::http::error::ErrorCode;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;
use serde::de::DeserializeOwned;

use super::{csrf, ApiError, BODY_LIMIT_BYTES};

/// A JSON body (`application/json`, at most [`BODY_LIMIT_BYTES`]), with failures answered in the
/// SPEC's error shape: 415 for another type, 413 past the limit, 400 for malformed JSON, 422 for
/// JSON of the wrong shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, ApiError> {
        if !csrf::is_json(request.headers()) {
            return Err(ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        let body = axum::body::to_bytes(request.into_body(), BODY_LIMIT_BYTES)
            .await
            .map_err(|error| {
                if find_source::<LengthLimitError>(&error).is_some() {
                    ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
                } else {
                    // The client went away or framed its body badly.
                    ApiError::from_status(StatusCode::BAD_REQUEST)
                }
            })?;
        match axum::Json::<T>::from_bytes(&body) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

/// A JSON response of a hot route, with room in its header map for the headers the stack adds
/// on its way out ([`super::security::HEADERS_ADDED`]), so they go in without the map growing.
pub fn json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.reserve(super::security::HEADERS_ADDED + 2);
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// The first error of type `E` in `error`'s chain of sources.
fn find_source<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

fn rejection_to_error(rejection: JsonRejection) -> ApiError {
    // `from_bytes` reads no header and no body: the content type and the size were checked
    // before it, so only the JSON itself can be wrong here.
    match rejection {
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedJson,
            "the body is not valid JSON",
        ),
        // The serde message names the field and the expected type, never our internals.
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidRequest,
            e.body_text(),
        ),
        other => ApiError::from_status(other.status()),
    }
}

/// Rewrites an error response that is not JSON (produced by the router or a layer) into the
/// SPEC's error shape, keeping its status and headers.
pub fn normalize_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut rebuilt = ApiError::from_status(status).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(rebuilt.headers_mut().drain());
    let (_, body) = rebuilt.into_parts();
    Response::from_parts(parts, body)
}
