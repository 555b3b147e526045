//! Task and template lifecycle in Kapacitor's terms: define, update, enable, disable,
//! delete; compile with the dsl, run in the engine, persist in the store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use weir_dsl::{CompileOptions, Program, TaskType};
use weir_engine::Engine;
use weir_engine::glob::glob_match;
use weir_sinks::state::store::{Store, StoreError, TaskRecord, TemplateRecord};

/// What went wrong with a task or template request, with the HTTP status Kapacitor uses.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// 400: the request or the script is invalid.
    #[error("{0}")]
    Invalid(String),
    /// 404: no such task or template.
    #[error("{0}")]
    NotFound(String),
    /// 500: the task was stored but could not start.
    #[error("{0}")]
    Start(String),
    /// 500: the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TaskError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            TaskError::Invalid(_) => 400,
            TaskError::NotFound(_) => 404,
            TaskError::Start(_) | TaskError::Store(_) => 500,
        }
    }
}

/// A define or update request (Kapacitor's task JSON, all fields optional for PATCH).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TaskRequest {
    /// Task id.
    #[serde(default)]
    pub id: Option<String>,
    /// `stream` or `batch`.
    #[serde(default, rename = "type")]
    pub task_type: Option<String>,
    /// `[{"db": …, "rp": …}]`.
    #[serde(default)]
    pub dbrps: Option<Vec<DbRp>>,
    /// TICKscript.
    #[serde(default)]
    pub script: Option<String>,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub status: Option<String>,
    /// Template vars.
    #[serde(default)]
    pub vars: Option<serde_json::Value>,
    /// Template to instantiate.
    #[serde(default)]
    pub template_id: Option<String>,
}

/// A database and retention policy pair in Kapacitor's JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct DbRp {
    /// Database.
    pub db: String,
    /// Retention policy.
    pub rp: String,
}

/// Runtime state of a task beside its stored definition.
#[derive(Debug, Clone, Default)]
struct TaskRuntime {
    /// The compiled program, when the script compiles.
    program: Option<Program>,
    /// Why it is not executing.
    error: String,
    /// Whether the engine runs it.
    executing: bool,
}

/// The task registry.
pub struct Tasks {
    store: Arc<Store>,
    engine: Engine,
    runtime: Mutex<BTreeMap<String, TaskRuntime>>,
    /// `[exec] allowed-commands`: the programs an `exec` handler may run.
    exec_allowed: Mutex<Vec<String>>,
    /// The alert services with an enabled section (for W605).
    services: Mutex<Vec<String>>,
}

/// Now, RFC 3339 with nanoseconds, as Kapacitor writes `created`/`modified`.
pub fn now_rfc3339() -> String {
    format_rfc3339(now_nanos())
}

/// Wall-clock nanoseconds since the epoch.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC with the shortest fractional part.
pub fn format_rfc3339(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        (second_of_day / 60) % 60,
        second_of_day % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Howard Hinnant's days-from-civil inverse.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl Tasks {
    /// A registry over the store and engine.
    pub fn new(store: Arc<Store>, engine: Engine) -> Tasks {
        Tasks {
            store,
            engine,
            runtime: Mutex::new(BTreeMap::new()),
            exec_allowed: Mutex::new(Vec::new()),
            services: Mutex::new(Vec::new()),
        }
    }

    /// Set the alert services that have an enabled config section (at start and on reload).
    pub fn set_services(&self, services: Vec<String>) {
        *self
            .services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = services;
    }

    fn services(&self) -> Vec<String> {
        self.services
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Set `[exec] allowed-commands` (at start and on reload). Tasks already running keep
    /// running; the list is checked whenever a task is defined, updated, enabled or restored.
    pub fn set_exec_allowed(&self, commands: Vec<String>) {
        *self
            .exec_allowed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = commands;
    }

    /// Refuse a program whose `exec` handlers name a program the operator did not allow.
    fn check_exec(&self, program: &Program) -> Result<(), TaskError> {
        let allowed = self
            .exec_allowed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for node in &program.nodes {
            let alert = match &node.spec {
                weir_dsl::NodeSpec::Alert(alert) => alert,
                weir_dsl::NodeSpec::Deadman(deadman) => &deadman.alert,
                _ => continue,
            };
            for handler in &alert.handlers {
                let weir_dsl::nodes::alert::AlertHandler::Exec { command } = handler else {
                    continue;
                };
                let program_name = command.first().map(String::as_str).unwrap_or("");
                if !allowed.iter().any(|allowed| allowed == program_name) {
                    return Err(TaskError::Invalid(format!(
                        "{}: exec handler runs {program_name:?}, which is not allowed: add it to \
                         [exec] allowed-commands in the config to let tasks run it",
                        node.name
                    )));
                }
            }
        }
        Ok(())
    }

    fn runtime(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, TaskRuntime>> {
        self.runtime
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Start every stored enabled task (at daemon start).
    pub fn restore(&self) -> Result<Restored, TaskError> {
        let mut started = Vec::new();
        let mut failed = Vec::new();
        for record in self.store.tasks()? {
            match self.activate(&record) {
                Ok(()) => {
                    if record.status == "enabled" {
                        started.push(record.id.clone());
                    }
                }
                Err(error) => failed.push((record.id.clone(), error.to_string())),
            }
        }
        Ok((started, failed))
    }

    /// Compile a record and start or stop it in the engine according to its status.
    fn activate(&self, record: &TaskRecord) -> Result<(), TaskError> {
        let program = match self.compile(record) {
            Ok(program) => program,
            Err(error) => {
                self.engine.stop_task(&record.id);
                self.runtime().insert(
                    record.id.clone(),
                    TaskRuntime {
                        program: None,
                        error: error.to_string(),
                        executing: false,
                    },
                );
                return Err(error);
            }
        };
        if record.status != "enabled" {
            self.engine.stop_task(&record.id);
            self.runtime().insert(
                record.id.clone(),
                TaskRuntime {
                    program: Some(program),
                    error: String::new(),
                    executing: false,
                },
            );
            return Ok(());
        }
        let result =
            self.engine
                .start_task_with_dbrps(&record.id, program.clone(), record.dbrps.clone());
        let (error, executing) = match &result {
            Ok(()) => (String::new(), true),
            Err(error) => (error.to_string(), false),
        };
        self.runtime().insert(
            record.id.clone(),
            TaskRuntime {
                program: Some(program),
                error: error.clone(),
                executing,
            },
        );
        result.map_err(|_| TaskError::Start(error))
    }

    fn compile(&self, record: &TaskRecord) -> Result<Program, TaskError> {
        let task_type = match record.task_type.as_str() {
            "batch" => TaskType::Batch,
            _ => TaskType::Stream,
        };
        let vars = weir_dsl::decode_vars(&record.vars)
            .map_err(|error| TaskError::Invalid(format!("invalid vars: {error}")))?;
        let options = CompileOptions {
            task_type: Some(task_type),
            vars,
            services: Some(self.services()),
        };
        let (program, diagnostics) = weir_dsl::compile(&record.script, &options);
        let errors: Vec<String> = diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error())
            .map(|diagnostic| diagnostic.one_line(&record.script))
            .collect();
        match program {
            Some(program) if errors.is_empty() => {
                self.check_exec(&program)?;
                Ok(program)
            }
            _ => Err(TaskError::Invalid(format!(
                "invalid TICKscript: {}",
                errors.join("; ")
            ))),
        }
    }

    /// `POST /tasks`.
    pub fn define(&self, request: TaskRequest) -> Result<serde_json::Value, TaskError> {
        let id = request
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| TaskError::Invalid("must provide a task ID".to_owned()))?;
        validate_id(&id)?;
        if self.store.task(&id)?.is_some() {
            return Err(TaskError::Invalid(format!("task {id} already exists")));
        }
        let now = now_rfc3339();
        let mut record = TaskRecord {
            id: id.clone(),
            template_id: String::new(),
            task_type: "stream".to_owned(),
            dbrps: Vec::new(),
            script: String::new(),
            status: "disabled".to_owned(),
            vars: json!({}),
            created: now.clone(),
            modified: now,
            last_enabled: String::new(),
        };
        self.merge(&mut record, request, true)?;
        self.save_and_activate(record)
    }

    /// `PATCH /tasks/:id`.
    pub fn update(&self, id: &str, request: TaskRequest) -> Result<serde_json::Value, TaskError> {
        let mut record = self.store.task(id)?.ok_or_else(|| no_task(id))?;
        let new_id = request.id.clone().filter(|new_id| new_id != id);
        self.merge(&mut record, request, false)?;
        record.modified = now_rfc3339();
        if let Some(new_id) = new_id {
            validate_id(&new_id)?;
            if self.store.task(&new_id)?.is_some() {
                return Err(TaskError::Invalid(format!("task {new_id} already exists")));
            }
            self.engine.stop_task(id);
            self.runtime().remove(id);
            self.store.delete_task(id)?;
            record.id = new_id;
        }
        self.save_and_activate(record)
    }

    fn merge(
        &self,
        record: &mut TaskRecord,
        request: TaskRequest,
        creating: bool,
    ) -> Result<(), TaskError> {
        if let Some(template_id) = request.template_id.filter(|t| !t.is_empty()) {
            let template = self
                .store
                .template(&template_id)?
                .ok_or_else(|| TaskError::Invalid(format!("unknown template {template_id}")))?;
            record.template_id = template.id;
            record.script = template.script;
            record.task_type = template.task_type;
        }
        if let Some(script) = request.script {
            if !record.template_id.is_empty() && !creating {
                return Err(TaskError::Invalid(
                    "cannot update the script of a task created from a template".to_owned(),
                ));
            }
            record.script = script;
        }
        if let Some(task_type) = request.task_type.filter(|t| !t.is_empty()) {
            if task_type != "stream" && task_type != "batch" {
                return Err(TaskError::Invalid(format!(
                    "unknown task type {task_type:?}: use stream or batch"
                )));
            }
            record.task_type = task_type;
        } else if creating && record.template_id.is_empty() {
            record.task_type = infer_type(&record.script).to_owned();
        }
        if let Some(dbrps) = request.dbrps {
            record.dbrps = dbrps.into_iter().map(|d| (d.db, d.rp)).collect();
        }
        if let Some(vars) = request.vars {
            record.vars = vars;
        }
        if let Some(status) = request.status.filter(|s| !s.is_empty()) {
            match status.as_str() {
                "enabled" => {
                    if record.status != "enabled" {
                        record.last_enabled = now_rfc3339();
                    }
                }
                "disabled" => {}
                other => {
                    return Err(TaskError::Invalid(format!(
                        "invalid status {other:?}: use enabled or disabled"
                    )));
                }
            }
            record.status = status;
        }
        if record.script.trim().is_empty() {
            return Err(TaskError::Invalid("must provide a TICKscript".to_owned()));
        }
        let program = self.compile(record)?;
        if !program.dbrps.is_empty() && !record.dbrps.is_empty() && creating {
            return Err(TaskError::Invalid(
                "cannot specify dbrp in both implicitly and explicitly".to_owned(),
            ));
        }
        if program.dbrps.is_empty() && record.dbrps.is_empty() {
            return Err(TaskError::Invalid("must specify dbrp".to_owned()));
        }
        Ok(())
    }

    fn save_and_activate(&self, record: TaskRecord) -> Result<serde_json::Value, TaskError> {
        self.store.put_task(&record)?;
        match self.activate(&record) {
            Ok(()) => {}
            // Kapacitor enables a batch task whose source is missing (200) and shows the
            // error on the task, so `kapacitor reload 'cpu_*'` goes on to the next task.
            Err(TaskError::Start(error))
                if record.task_type == "batch" && missing_query_source(&error) => {}
            Err(error) => return Err(error),
        }
        self.task_json(&record.id, &TaskView::default())
    }

    /// `DELETE /tasks/:id`: true when it existed.
    pub fn delete(&self, id: &str) -> Result<bool, TaskError> {
        // Before the stop: the task's thread forgets the state after its last message.
        self.engine.forget_alert_state(id);
        self.engine.stop_task(id);
        self.runtime().remove(id);
        Ok(self.store.delete_task(id)?)
    }

    /// A task's compiled program and the databases and retention policies it reads (for
    /// recordings and replays).
    pub fn program(&self, id: &str) -> Result<(Program, Vec<(String, String)>), TaskError> {
        let record = self.store.task(id)?.ok_or_else(|| no_task(id))?;
        let program = self.compile(&record)?;
        let dbrps = if record.dbrps.is_empty() {
            program.dbrps.clone()
        } else {
            record.dbrps.clone()
        };
        Ok((program, dbrps))
    }

    /// Stored task ids.
    pub fn ids(&self) -> Result<Vec<String>, TaskError> {
        Ok(self.store.tasks()?.into_iter().map(|t| t.id).collect())
    }

    /// `GET /tasks/:id`.
    pub fn task_json(&self, id: &str, view: &TaskView) -> Result<serde_json::Value, TaskError> {
        let record = self.store.task(id)?.ok_or_else(|| no_task(id))?;
        Ok(self.render(&record, view, None))
    }

    /// `GET /tasks` with Kapacitor's `pattern`, `fields`, `offset`, `limit`.
    pub fn list_json(
        &self,
        query: &ListQuery,
        view: &TaskView,
    ) -> Result<serde_json::Value, TaskError> {
        let records = self.store.tasks()?;
        let limit = query.limit.unwrap_or(100);
        let offset = query.offset.unwrap_or(0);
        let fields = (!query.fields.is_empty()).then_some(query.fields.as_slice());
        let tasks: Vec<serde_json::Value> = records
            .iter()
            .filter(|record| {
                query
                    .pattern
                    .as_deref()
                    .is_none_or(|p| glob_match(p, &record.id))
            })
            .skip(offset)
            .take(limit)
            .map(|record| self.render(record, view, fields))
            .collect();
        Ok(json!({ "tasks": tasks }))
    }

    fn render(
        &self,
        record: &TaskRecord,
        view: &TaskView,
        fields: Option<&[String]>,
    ) -> serde_json::Value {
        let runtime = self.runtime().get(&record.id).cloned().unwrap_or_default();
        let stats = self.engine.task_stats(&record.id);
        let stats_json = stats
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_else(|| json!({}));
        let dot = runtime
            .program
            .as_ref()
            .map(|program| crate::dot::render(&record.id, program, &stats_json, view.dot_labels))
            .unwrap_or_default();
        let dbrps: Vec<serde_json::Value> = match (&runtime.program, record.dbrps.is_empty()) {
            (Some(program), true) => program
                .dbrps
                .iter()
                .map(|(db, rp)| json!({"db": db, "rp": rp}))
                .collect(),
            _ => record
                .dbrps
                .iter()
                .map(|(db, rp)| json!({"db": db, "rp": rp}))
                .collect(),
        };
        let script = if view.formatted_script {
            weir_dsl::format(&record.script).unwrap_or_else(|_| record.script.clone())
        } else {
            record.script.clone()
        };
        let mut task = json!({
            "link": {"rel": "self", "href": format!("/kapacitor/v1/tasks/{}", record.id)},
            "id": record.id,
            "template-id": record.template_id,
            "type": record.task_type,
            "dbrps": dbrps,
            "script": script,
            "vars": record.vars,
            "dot": dot,
            "status": record.status,
            "executing": runtime.executing,
            "error": if runtime.error.is_empty() {
                // A running batch task's latest failed query run.
                self.engine.task_error(&record.id).unwrap_or_default()
            } else {
                runtime.error
            },
            "stats": stats_json,
            "created": record.created,
            "modified": record.modified,
            "last-enabled": if record.last_enabled.is_empty() { "0001-01-01T00:00:00Z".to_owned() } else { record.last_enabled.clone() },
        });
        if let (Some(fields), Some(object)) = (fields, task.as_object_mut()) {
            object.retain(|key, _| key == "link" || key == "id" || fields.iter().any(|f| f == key));
        }
        task
    }

    /// `POST /templates`.
    pub fn define_template(
        &self,
        request: TemplateRequest,
    ) -> Result<serde_json::Value, TaskError> {
        let id = request
            .id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| TaskError::Invalid("must provide a template ID".to_owned()))?;
        validate_id(&id)?;
        if self.store.template(&id)?.is_some() {
            return Err(TaskError::Invalid(format!("template {id} already exists")));
        }
        let now = now_rfc3339();
        let script = request.script.unwrap_or_default();
        let task_type = request
            .task_type
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| infer_type(&script).to_owned());
        let template = TemplateRecord {
            id,
            task_type,
            script,
            created: now.clone(),
            modified: now,
        };
        check_template(&template)?;
        self.store.put_template(&template)?;
        Ok(template_json(&template))
    }

    /// `PATCH /templates/:id`: re-defines every task made from it.
    pub fn update_template(
        &self,
        id: &str,
        request: TemplateRequest,
    ) -> Result<serde_json::Value, TaskError> {
        let mut template = self.store.template(id)?.ok_or_else(|| no_template(id))?;
        if let Some(script) = request.script {
            template.script = script;
        }
        if let Some(task_type) = request.task_type.filter(|t| !t.is_empty()) {
            template.task_type = task_type;
        }
        template.modified = now_rfc3339();
        check_template(&template)?;
        // Every dependent task must still compile with its vars before anything changes.
        let dependents: Vec<TaskRecord> = self
            .store
            .tasks()?
            .into_iter()
            .filter(|t| t.template_id == id)
            .collect();
        for task in &dependents {
            let mut candidate = task.clone();
            candidate.script = template.script.clone();
            candidate.task_type = template.task_type.clone();
            self.compile(&candidate).map_err(|error| {
                TaskError::Invalid(format!(
                    "error reloading associated task {}: {error}",
                    task.id
                ))
            })?;
        }
        self.store.put_template(&template)?;
        for mut task in dependents {
            task.script = template.script.clone();
            task.task_type = template.task_type.clone();
            task.modified = template.modified.clone();
            self.store.put_task(&task)?;
            let _ = self.activate(&task);
        }
        Ok(template_json(&template))
    }

    /// `GET /templates/:id`.
    pub fn template_json(&self, id: &str) -> Result<serde_json::Value, TaskError> {
        let template = self.store.template(id)?.ok_or_else(|| no_template(id))?;
        Ok(template_json(&template))
    }

    /// `GET /templates`.
    pub fn list_templates_json(
        &self,
        pattern: Option<&str>,
    ) -> Result<serde_json::Value, TaskError> {
        let templates: Vec<serde_json::Value> = self
            .store
            .templates()?
            .iter()
            .filter(|t| pattern.is_none_or(|p| glob_match(p, &t.id)))
            .map(template_json)
            .collect();
        Ok(json!({ "templates": templates }))
    }

    /// `DELETE /templates/:id`.
    pub fn delete_template(&self, id: &str) -> Result<bool, TaskError> {
        Ok(self.store.delete_template(id)?)
    }

    /// Define or replace a task from the config file or the `[load]` directory: the file
    /// is the source of truth, so an existing definition is overwritten.
    pub fn load(
        &self,
        id: &str,
        script: String,
        dbrps: Vec<(String, String)>,
        enabled: bool,
    ) -> Result<(), TaskError> {
        let now = now_rfc3339();
        let existing = self.store.task(id)?;
        let record = TaskRecord {
            id: id.to_owned(),
            template_id: String::new(),
            task_type: infer_type(&script).to_owned(),
            dbrps,
            status: if enabled { "enabled" } else { "disabled" }.to_owned(),
            vars: json!({}),
            created: existing
                .as_ref()
                .map_or_else(|| now.clone(), |e| e.created.clone()),
            modified: now.clone(),
            last_enabled: if enabled { now } else { String::new() },
            script,
        };
        if existing.as_ref().is_some_and(|e| {
            e.script == record.script && e.dbrps == record.dbrps && e.status == record.status
        }) {
            return Ok(());
        }
        self.compile(&record)?;
        self.store.put_task(&record)?;
        self.activate(&record)
    }
}

/// How to render a task.
#[derive(Debug, Clone, Default)]
pub struct TaskView {
    /// `dot-view=labels`.
    pub dot_labels: bool,
    /// `script-format=formatted`.
    pub formatted_script: bool,
}

/// `GET /tasks` query parameters.
///
/// Parsed by hand rather than with serde: Kapacitor's Go client repeats `fields` once per
/// field (`fields=type&fields=status`) and always sends `pattern`, empty when it means all.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Glob on ids (`None`: all).
    pub pattern: Option<String>,
    /// Fields to include (empty: all); repeated or comma-separated.
    pub fields: Vec<String>,
    /// Skip this many.
    pub offset: Option<usize>,
    /// At most this many (default 100).
    pub limit: Option<usize>,
    /// `attributes` or `labels`.
    pub dot_view: Option<String>,
    /// `formatted` or `raw`.
    pub script_format: Option<String>,
}

impl ListQuery {
    /// Parse a raw query string; a bad number names the parameter.
    pub fn parse(raw: Option<&str>) -> Result<ListQuery, String> {
        let mut query = ListQuery::default();
        let number = |key: &str, value: &str| {
            value
                .parse::<usize>()
                .map_err(|_| format!("invalid {key} {value:?}: expected a non-negative integer"))
        };
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "pattern" if !value.is_empty() => {
                    if value.chars().count() > MAX_PATTERN_CHARS {
                        return Err(format!(
                            "pattern is longer than {MAX_PATTERN_CHARS} characters"
                        ));
                    }
                    query.pattern = Some(value.into_owned());
                }
                "fields" => query.fields.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned),
                ),
                "offset" => query.offset = Some(number("offset", &value)?),
                "limit" => query.limit = Some(number("limit", &value)?),
                "dot-view" => query.dot_view = Some(value.into_owned()),
                "script-format" => query.script_format = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(query)
    }
}

/// A template define or update request.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct TemplateRequest {
    /// Template id.
    #[serde(default)]
    pub id: Option<String>,
    /// `stream` or `batch`.
    #[serde(default, rename = "type")]
    pub task_type: Option<String>,
    /// TICKscript.
    #[serde(default)]
    pub script: Option<String>,
}

fn check_template(template: &TemplateRecord) -> Result<(), TaskError> {
    if template.script.trim().is_empty() {
        return Err(TaskError::Invalid("must provide a TICKscript".to_owned()));
    }
    let (_, diagnostics) = weir_dsl::parser::parse(&template.script);
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.one_line(&template.script))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(TaskError::Invalid(format!(
            "invalid TICKscript: {}",
            errors.join("; ")
        )))
    }
}

/// A template var in Kapacitor's JSON: `{"type", "value", "description"}`.
fn var_json(var: &weir_dsl::TemplateVar) -> serde_json::Value {
    json!({
        "type": var.r#type,
        "value": var.value.as_ref().map_or(serde_json::Value::Null, value_json),
        "description": var.description,
    })
}

fn value_json(value: &weir_dsl::Value) -> serde_json::Value {
    use weir_dsl::Value;
    match value {
        Value::Float(v) => json!(v),
        Value::Int(v) => json!(v),
        Value::String(v) | Value::Lambda(v) => json!(v),
        Value::Bool(v) => json!(v),
        Value::Duration(d) => json!(d.nanos()),
        Value::Time(t) => json!(format_rfc3339(*t)),
        Value::Regex(r) => json!(r.as_str()),
        Value::List(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|item| json!({"type": item.type_name(), "value": value_json(item)}))
                .collect(),
        ),
        Value::Star => json!("*"),
        _ => serde_json::Value::Null,
    }
}

/// A template's graph in DOT (`kapacitor show-template`): the script compiled with its
/// defaults, and a value of the declared type for each var without one; empty when the
/// template does not compile that way.
fn template_dot(template: &TemplateRecord, vars: &[weir_dsl::TemplateVar]) -> String {
    use weir_dsl::Value;
    let mut values = BTreeMap::new();
    for var in vars {
        let value = match (&var.value, var.r#type.as_str()) {
            (Some(value), _) => value.clone(),
            (None, "string") => Value::String(String::new()),
            (None, "int") => Value::Int(0),
            (None, "float") => Value::Float(0.0),
            (None, "bool") => Value::Bool(false),
            (None, "duration") => Value::Duration(weir_dsl::Duration(1_000_000_000)),
            (None, "lambda") => Value::Lambda("TRUE".to_owned()),
            (None, "list") => Value::List(Vec::new()),
            (None, "star") => Value::Star,
            (None, _) => return String::new(),
        };
        values.insert(var.name.clone(), value);
    }
    let options = CompileOptions {
        task_type: Some(match template.task_type.as_str() {
            "batch" => TaskType::Batch,
            _ => TaskType::Stream,
        }),
        vars: values,
        services: None,
    };
    match weir_dsl::compile(&template.script, &options) {
        (Some(program), _) => {
            crate::dot::render(&template.id, &program, &serde_json::Value::Null, false)
        }
        (None, _) => String::new(),
    }
}

fn template_json(template: &TemplateRecord) -> serde_json::Value {
    let declared = weir_dsl::template_vars(&template.script);
    let dot = template_dot(template, &declared);
    let vars: serde_json::Map<String, serde_json::Value> = declared
        .iter()
        .map(|var| (var.name.clone(), var_json(var)))
        .collect();
    json!({
        "link": {"rel": "self", "href": format!("/kapacitor/v1/templates/{}", template.id)},
        "id": template.id,
        "type": template.task_type,
        "script": template.script,
        "vars": vars,
        "dot": dot,
        "error": "",
        "created": template.created,
        "modified": template.modified,
    })
}

/// Whether a start error says the batch task's query source is not configured.
fn missing_query_source(error: &str) -> bool {
    ["[[prometheus]]", "[[influxdb]]", "need a query source"]
        .iter()
        .any(|needle| error.contains(needle))
}

fn no_task(id: &str) -> TaskError {
    TaskError::NotFound(format!("no task exists with ID {id}"))
}

fn no_template(id: &str) -> TaskError {
    TaskError::NotFound(format!("no template exists with ID {id}"))
}

fn validate_id(id: &str) -> Result<(), TaskError> {
    if id
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        Ok(())
    } else {
        Err(TaskError::Invalid(format!(
            "task ID must contain only letters, numbers, '-', '.' and '_'. {id:?}"
        )))
    }
}

/// `stream` unless the script's first chain starts at `batch`.
fn infer_type(script: &str) -> &'static str {
    let uncommented: String = script
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let stream = uncommented.find("stream");
    let batch = uncommented.find("batch");
    match (stream, batch) {
        (None, Some(_)) => "batch",
        (Some(s), Some(b)) if b < s => "batch",
        _ => "stream",
    }
}

/// The longest `pattern` accepted (in characters); longer ones are answered 400.
pub const MAX_PATTERN_CHARS: usize = 256;

/// What [`Tasks::restore`] did: the ids of the tasks started, and the ids that failed with why.
pub type Restored = (Vec<String>, Vec<(String, String)>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_linear() {
        let id = "a".repeat(200);
        let pattern = format!("{}b", "*a".repeat(13));
        // Exponential matching took over a minute on this one.
        assert!(!glob_match(&pattern, &id));
        assert!(glob_match(&"*".repeat(MAX_PATTERN_CHARS), &id));
        assert!(glob_match("*a*a*a", &id));
        assert!(glob_match("a*?", "ab"));
        assert!(!glob_match("a*?", "a"));
        assert!(glob_match("*b*c", "abxbxc"));
        assert!(!glob_match("*b*c", "abxbx"));
        let long = format!("pattern={}", "*".repeat(45_000));
        let error = ListQuery::parse(Some(&long)).unwrap_err();
        assert!(error.contains("longer than 256"), "{error}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("cpu*", "cpu_alert"));
        assert!(glob_match("*", ""));
        assert!(glob_match("c?u", "cpu"));
        assert!(!glob_match("cpu", "cpu2"));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339(1_609_459_202_500_000_000),
            "2021-01-01T00:00:02.5Z"
        );
        assert_eq!(
            format_rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn infers_task_type() {
        assert_eq!(infer_type("// batch job\nstream|from()"), "stream");
        assert_eq!(infer_type("batch|query('SELECT 1')"), "batch");
    }
}
