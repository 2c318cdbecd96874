//! Province scoping of a scan: a `province:<code>` caller reads only the
//! rows whose `province_code` is its own.
//!
//! [`crate::catalog::LiveTable`] filters its own scans with
//! [`only_province`]; a table kept elsewhere (the `communes` reference
//! list, `rule_alerts`) that has the column is wrapped in
//! [`ProvinceScoped`], so the README's promise ("only that province's rows,
//! in every table and view") holds for every base table, not only the live
//! ones.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, Operator};
use datafusion::physical_expr::expressions::{BinaryExpr, col, lit};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExecBuilder;

use crate::catalog::scope_of;

/// The column scoping reads.
const COLUMN: &str = "province_code";

/// Whether a table of this schema is narrowed for a province caller.
pub fn has_province(schema: &SchemaRef) -> bool {
    schema.index_of(COLUMN).is_ok()
}

/// The columns to read so the province can be compared (the caller's
/// projection plus `province_code` if it left it out) and, when it was
/// added, the columns to give back afterwards.
pub fn reading_province(
    table: &SchemaRef,
    projection: Option<&Vec<usize>>,
) -> Result<(Option<Vec<usize>>, Option<Vec<usize>>)> {
    let column = table.index_of(COLUMN)?;
    Ok(match projection {
        Some(p) if !p.contains(&column) => {
            let mut read = p.clone();
            read.push(column);
            (Some(read), Some((0..p.len()).collect()))
        }
        other => (other.cloned(), None),
    })
}

/// `input` (read with [`reading_province`]'s columns) kept to `province`'s
/// rows, with the columns `keep` names.
pub fn only_province(
    input: Arc<dyn ExecutionPlan>,
    province: &str,
    keep: Option<Vec<usize>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let column = col(COLUMN, &input.schema())?;
    // The literal of the column's own type (`filings` holds views): a
    // physical comparison does not coerce.
    let code = ScalarValue::Utf8(Some(province.to_string()))
        .cast_to(&column.data_type(&input.schema())?)?;
    let predicate = Arc::new(BinaryExpr::new(column, Operator::Eq, lit(code)));
    Ok(Arc::new(
        FilterExecBuilder::new(predicate, input)
            .apply_projection(keep)?
            .build()?,
    ))
}

/// Any table with a `province_code` column, scoped like the live tables.
#[derive(Debug)]
pub struct ProvinceScoped {
    inner: Arc<dyn TableProvider>,
}

impl ProvinceScoped {
    /// `inner` scoped if it has the column, as it is otherwise.
    pub fn wrap(inner: Arc<dyn TableProvider>) -> Arc<dyn TableProvider> {
        if has_province(&inner.schema()) {
            Arc::new(ProvinceScoped { inner })
        } else {
            inner
        }
    }
}

#[async_trait]
impl TableProvider for ProvinceScoped {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scope = scope_of(state)?;
        let Some(province) = scope.province.as_deref() else {
            return self.inner.scan(state, projection, filters, limit).await;
        };
        // No filters or limit are pushed into the inner scan: they would
        // apply before the province filter and could drop the caller's rows.
        let (read, keep) = reading_province(&self.schema(), projection)?;
        let input = self.inner.scan(state, read.as_ref(), &[], None).await?;
        only_province(input, province, keep)
    }
}
