//! `/v1/dictionaries`: named lists of constants for user interfaces.
//! Built-in items can be edited (label, order, enabled …) but not deleted;
//! built-in types cannot be deleted either.

use axum::extract::Path;
use axum::http::StatusCode;
use oxmon_storage::management::{DictItem, DictType, Write};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult, code};

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeSummary {
    dict_type: String,
    dict_type_label: String,
    count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeItem {
    dict_type: String,
    dict_type_label: String,
    sort_order: i64,
    description: Option<String>,
    /// Added in 0.2: built-in types cannot be deleted.
    is_system: bool,
    created_at: String,
    updated_at: String,
}

impl From<DictType> for TypeItem {
    fn from(t: DictType) -> Self {
        Self {
            created_at: rfc3339(t.created_at * 1000),
            updated_at: rfc3339(t.updated_at * 1000),
            dict_type: t.dict_type,
            dict_type_label: t.dict_type_label,
            sort_order: t.sort_order,
            description: t.description,
            is_system: t.is_system,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    id: String,
    dict_type: String,
    dict_key: String,
    dict_label: String,
    dict_value: Option<String>,
    sort_order: i64,
    enabled: bool,
    is_system: bool,
    description: Option<String>,
    /// JSON encoded as a string.
    extra_json: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<DictItem> for Item {
    fn from(i: DictItem) -> Self {
        Self {
            created_at: rfc3339(i.created_at * 1000),
            updated_at: rfc3339(i.updated_at * 1000),
            id: i.id,
            dict_type: i.dict_type,
            dict_key: i.dict_key,
            dict_label: i.dict_label,
            dict_value: i.dict_value,
            sort_order: i.sort_order,
            enabled: i.enabled,
            is_system: i.is_system,
            description: i.description,
            extra_json: i.extra_json,
        }
    }
}

fn conflict(message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code::CONFLICT, message)
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, 1999, message)
}

fn required(name: &str, value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::bad_request(format!("{name} is required")));
    }
    if v.chars().count() > 128 {
        return Err(ApiError::bad_request(format!("{name} must be at most 128 characters")));
    }
    Ok(v.to_owned())
}

fn check_extra(extra: &Option<String>) -> Result<(), ApiError> {
    if let Some(e) = extra {
        serde_json::from_str::<serde_json::Value>(e)
            .map_err(|err| ApiError::bad_request(format!("extra_json is not valid JSON: {err}")))?;
    }
    Ok(())
}

/// Types that have items, with counts, in their sort order.
#[utoipa::path(get, path = "/dictionaries/types", tag = "dictionaries", params(PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Types", body = Envelope<Vec<TypeSummary>>)))]
pub async fn list_types(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let rows = state.management(move |m| m.dict_type_summaries(page.limit, page.offset)).await?;
    let total = rows.total;
    let items: Vec<TypeSummary> = rows
        .into_iter()
        .map(|s| TypeSummary { dict_type: s.dict_type, dict_type_label: s.dict_type_label, count: s.count })
        .collect();
    Ok(ApiOk::page(items, total))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateType {
    dict_type: String,
    dict_type_label: String,
    sort_order: Option<i64>,
    description: Option<String>,
}

/// Add a type.
#[utoipa::path(post, path = "/dictionaries/types", tag = "dictionaries", request_body = CreateType,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The type", body = Envelope<TypeItem>),
        (status = 400, description = "Missing field", body = EmptyEnvelope),
        (status = 409, description = "The type exists", body = EmptyEnvelope)))]
pub async fn create_type(state: AppStateRef, ApiJson(body): ApiJson<CreateType>) -> ApiResult {
    let t = DictType {
        dict_type: required("dict_type", &body.dict_type)?,
        dict_type_label: required("dict_type_label", &body.dict_type_label)?,
        sort_order: body.sort_order.unwrap_or(0),
        description: body.description,
        is_system: false,
        created_at: 0,
        updated_at: 0,
    };
    let key = t.dict_type.clone();
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.create_dict_type(t, now)).await? {
        Write::Done(t) => Ok(ApiOk::created(TypeItem::from(t))),
        _ => Err(conflict(format!("dictionary type '{key}' already exists"))),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateType {
    dict_type_label: Option<String>,
    sort_order: Option<i64>,
    description: Option<String>,
}

fn type_not_found() -> ApiError {
    ApiError::not_found("Dictionary type not found")
}

/// Change a type's label, order or description.
#[utoipa::path(put, path = "/dictionaries/types/{dict_type}", tag = "dictionaries", request_body = UpdateType,
    security(("bearer_auth" = [])), params(("dict_type" = String, Path, description = "Type key")), responses(
        (status = 200, description = "The type", body = Envelope<TypeItem>),
        (status = 400, description = "Empty label", body = EmptyEnvelope),
        (status = 404, description = "No such type", body = EmptyEnvelope)))]
pub async fn update_type(state: AppStateRef, Path(key): Path<String>, ApiJson(body): ApiJson<UpdateType>) -> ApiResult {
    let k = key.clone();
    let mut t = state.management(move |m| m.dict_type(&k)).await?.ok_or_else(type_not_found)?;
    if let Some(label) = body.dict_type_label {
        t.dict_type_label = required("dict_type_label", &label)?;
    }
    if let Some(order) = body.sort_order {
        t.sort_order = order;
    }
    if body.description.is_some() {
        t.description = body.description;
    }
    let now = state.clock.now_ms() / 1000;
    let t = state.management(move |m| m.update_dict_type(&t, now)).await?.ok_or_else(type_not_found)?;
    Ok(ApiOk::data(TypeItem::from(t)))
}

/// Delete a user-created type (its items stay).
#[utoipa::path(delete, path = "/dictionaries/types/{dict_type}", tag = "dictionaries", security(("bearer_auth" = [])),
    params(("dict_type" = String, Path, description = "Type key")), responses(
        (status = 200, description = "`Dictionary type deleted`", body = EmptyEnvelope),
        (status = 403, description = "Built-in types cannot be deleted", body = EmptyEnvelope),
        (status = 404, description = "No such type", body = EmptyEnvelope)))]
pub async fn delete_type(state: AppStateRef, Path(key): Path<String>) -> ApiResult {
    let k = key.clone();
    let t = state.management(move |m| m.dict_type(&k)).await?.ok_or_else(type_not_found)?;
    if t.is_system {
        return Err(forbidden("built-in dictionary types cannot be deleted"));
    }
    state.management(move |m| m.delete_dict_type(&key)).await?;
    Ok(ApiOk::message("Dictionary type deleted"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemFilter {
    /// Only enabled items (default false).
    enabled_only: Option<bool>,
}

/// Items of a type, by sort order.
#[utoipa::path(get, path = "/dictionaries/type/{dict_type}", tag = "dictionaries", params(
        ("dict_type" = String, Path, description = "Type key"), ItemFilter, PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Items", body = Envelope<Vec<Item>>),
        (status = 400, description = "Bad parameter", body = EmptyEnvelope)))]
pub async fn list_items(
    state: AppStateRef,
    Path(key): Path<String>,
    ApiQuery(f): ApiQuery<ItemFilter>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult {
    let page = q.page()?;
    let only = f.enabled_only.unwrap_or(false);
    let items = state.management(move |m| m.dict_items(&key, only, page.limit, page.offset)).await?;
    Ok(ApiOk::page(items.items.into_iter().map(Item::from).collect::<Vec<_>>(), items.total))
}

fn item_not_found() -> ApiError {
    ApiError::not_found("Dictionary item not found")
}

/// One item.
#[utoipa::path(get, path = "/dictionaries/{id}", tag = "dictionaries", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Item id")), responses(
        (status = 200, description = "The item", body = Envelope<Item>),
        (status = 404, description = "No such item", body = EmptyEnvelope)))]
pub async fn get_item(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let item = state.management(move |m| m.dict_item(&id)).await?.ok_or_else(item_not_found)?;
    Ok(ApiOk::data(Item::from(item)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateItem {
    dict_type: String,
    dict_key: String,
    dict_label: String,
    dict_value: Option<String>,
    sort_order: Option<i64>,
    enabled: Option<bool>,
    description: Option<String>,
    extra_json: Option<String>,
}

/// Add an item (never built-in); creates its type, labelled with the key,
/// when missing.
#[utoipa::path(post, path = "/dictionaries", tag = "dictionaries", request_body = CreateItem,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The item", body = Envelope<Item>),
        (status = 400, description = "Missing field or bad extra_json", body = EmptyEnvelope),
        (status = 409, description = "The type already has this key", body = EmptyEnvelope)))]
pub async fn create_item(state: AppStateRef, ApiJson(body): ApiJson<CreateItem>) -> ApiResult {
    check_extra(&body.extra_json)?;
    let item = DictItem {
        id: String::new(),
        dict_type: required("dict_type", &body.dict_type)?,
        dict_key: required("dict_key", &body.dict_key)?,
        dict_label: required("dict_label", &body.dict_label)?,
        dict_value: body.dict_value,
        sort_order: body.sort_order.unwrap_or(0),
        enabled: body.enabled.unwrap_or(true),
        is_system: false,
        description: body.description,
        extra_json: body.extra_json,
        created_at: 0,
        updated_at: 0,
    };
    let (t, k) = (item.dict_type.clone(), item.dict_key.clone());
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.create_dict_item(item, now)).await? {
        Write::Done(item) => Ok(ApiOk::created(Item::from(item))),
        _ => Err(conflict(format!("dictionary '{t}' already has the key '{k}'"))),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateItem {
    dict_label: Option<String>,
    dict_value: Option<String>,
    sort_order: Option<i64>,
    enabled: Option<bool>,
    description: Option<String>,
    extra_json: Option<String>,
}

/// Change an item (built-in items too; their label, value, order and
/// description are restored from the build at the next start).
#[utoipa::path(put, path = "/dictionaries/{id}", tag = "dictionaries", request_body = UpdateItem,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Item id")), responses(
        (status = 200, description = "The item", body = Envelope<Item>),
        (status = 400, description = "Empty label or bad extra_json", body = EmptyEnvelope),
        (status = 404, description = "No such item", body = EmptyEnvelope)))]
pub async fn update_item(state: AppStateRef, Path(id): Path<String>, ApiJson(body): ApiJson<UpdateItem>) -> ApiResult {
    check_extra(&body.extra_json)?;
    let key = id.clone();
    let mut item = state.management(move |m| m.dict_item(&key)).await?.ok_or_else(item_not_found)?;
    if let Some(label) = body.dict_label {
        item.dict_label = required("dict_label", &label)?;
    }
    if body.dict_value.is_some() {
        item.dict_value = body.dict_value;
    }
    if let Some(order) = body.sort_order {
        item.sort_order = order;
    }
    if let Some(enabled) = body.enabled {
        item.enabled = enabled;
    }
    if body.description.is_some() {
        item.description = body.description;
    }
    if body.extra_json.is_some() {
        item.extra_json = body.extra_json;
    }
    let now = state.clock.now_ms() / 1000;
    let item = state.management(move |m| m.update_dict_item(&item, now)).await?.ok_or_else(item_not_found)?;
    Ok(ApiOk::data(Item::from(item)))
}

/// Delete a user-created item.
#[utoipa::path(delete, path = "/dictionaries/{id}", tag = "dictionaries", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Item id")), responses(
        (status = 200, description = "`Dictionary item deleted`", body = EmptyEnvelope),
        (status = 403, description = "Built-in items cannot be deleted", body = EmptyEnvelope),
        (status = 404, description = "No such item", body = EmptyEnvelope)))]
pub async fn delete_item(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let key = id.clone();
    let item = state.management(move |m| m.dict_item(&key)).await?.ok_or_else(item_not_found)?;
    if item.is_system {
        return Err(forbidden("built-in dictionary items cannot be deleted"));
    }
    state.management(move |m| m.delete_dict_item(&id)).await?;
    Ok(ApiOk::message("Dictionary item deleted"))
}
