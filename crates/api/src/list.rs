//! Cursor pagination, Stripe style: `?limit=1..100&starting_after=<id>`,
//! answered as `{object: "list", data, has_more, url}`. Lists are in id
//! order; ids are ULIDs, so that is creation order, oldest first.

use actix_web::HttpRequest;
use platform::{PlatformError, PlatformResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The default page size.
const DEFAULT_LIMIT: u64 = 10;
/// The largest page size.
const MAX_LIMIT: u64 = 100;

/// The query of every list endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Page size, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// The id of the last object of the previous page: the page starts after it.
    starting_after: Option<String>,
}

impl ListParams {
    /// The parameters of a list whose query has more filters than these.
    pub(crate) fn new(limit: Option<i64>, starting_after: Option<String>) -> Self {
        Self {
            limit,
            starting_after,
        }
    }

    /// The page size, validated.
    pub(crate) fn limit(&self) -> PlatformResult<u64> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) => u64::try_from(limit)
                .ok()
                .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    PlatformError::invalid(
                        "limit",
                        format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
                    )
                }),
        }
    }

    /// The cursor, if any.
    pub(crate) fn starting_after(&self) -> Option<&str> {
        self.starting_after.as_deref()
    }
}

/// A page of objects.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct List<T> {
    /// Always `list`.
    object: &'static str,
    /// The objects of this page, in id (creation) order.
    pub(crate) data: Vec<T>,
    /// Whether more objects follow: ask again with `starting_after` set to
    /// the last id of `data`.
    has_more: bool,
    /// The path this list is served at.
    url: String,
}

impl<T> List<T> {
    /// A page from up to `limit + 1` fetched objects: the extra one only
    /// tells that more follow.
    pub(crate) fn from_fetched(req: &HttpRequest, mut fetched: Vec<T>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let has_more = fetched.len() > limit;
        fetched.truncate(limit);
        Self {
            object: "list",
            data: fetched,
            has_more,
            url: req.path().to_owned(),
        }
    }

    /// A page of `all` (sorted by id): for short lists kept in full, such
    /// as the catalog. A cursor that is not in the list (another tenant's
    /// id included) is a validation error, as it is for database-paged lists.
    pub(crate) fn page_of(
        req: &HttpRequest,
        all: Vec<T>,
        id: impl Fn(&T) -> &str,
        params: &ListParams,
    ) -> PlatformResult<Self> {
        let limit = params.limit()?;
        let start = match params.starting_after() {
            None => 0,
            Some(cursor) => {
                all.iter()
                    .position(|item| id(item) == cursor)
                    .ok_or_else(|| {
                        PlatformError::invalid(
                            "starting_after",
                            format!("no such object: `{cursor}`"),
                        )
                    })?
                    + 1
            }
        };
        let fetched = all
            .into_iter()
            .skip(start)
            .take(usize::try_from(limit + 1).unwrap_or(usize::MAX))
            .collect();
        Ok(Self::from_fetched(req, fetched, limit))
    }

    /// The same page with every object converted.
    pub(crate) fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<List<U>, E> {
        let data = self.data.into_iter().map(f).collect::<Result<_, _>>()?;
        Ok(List {
            object: self.object,
            data,
            has_more: self.has_more,
            url: self.url,
        })
    }

    /// The same page with every object converted infallibly.
    pub(crate) fn map<U>(self, f: impl FnMut(T) -> U) -> List<U> {
        let data = self.data.into_iter().map(f).collect();
        List {
            object: self.object,
            data,
            has_more: self.has_more,
            url: self.url,
        }
    }

    /// The same page carrying `data` (converted from this page's objects).
    pub(crate) fn map_data<U>(&self, data: Vec<U>) -> List<U> {
        List {
            object: self.object,
            data,
            has_more: self.has_more,
            url: self.url.clone(),
        }
    }
}
