//! Redis Functions: the libraries FUNCTION LOAD creates (`#!lua name=<lib>` code that calls
//! `redis.register_function`), the functions they register, and the operations on the set
//! of libraries (load, replace, delete, flush, the join FUNCTION RESTORE makes).
//!
//! A library's code runs once at load, in an environment that offers only the loading API
//! (`redis.register_function`, `redis.log`, the version fields): anything else is a missing
//! global, as in Redis. Afterwards the same environment reads through to the sandbox's
//! globals, so the registered callbacks see the full API when FCALL runs them.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use mlua::{Function, Lua, Table, Value, Variadic};

use super::shebang;
use super::vm::{lua_error_text, Vm};

/// One registered function.
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: u32,
    pub func: Function,
}

/// One library.
pub struct Library {
    pub name: String,
    /// The whole code, shebang included (FUNCTION LIST WITHCODE, DUMP, the RDB file).
    pub code: Vec<u8>,
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// The loaded libraries.
#[derive(Default)]
pub struct Libraries {
    pub libs: BTreeMap<String, Library>,
    /// Function name -> library name.
    pub by_function: HashMap<String, String>,
}

/// The engine name Redis reports.
pub const ENGINE: &str = "LUA";

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

impl Libraries {
    /// The function `name` and its library.
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        let lib = self.by_function.get(name)?;
        self.libs.get(lib)?.functions.get(name)
    }

    pub fn function_count(&self) -> usize {
        self.by_function.len()
    }

    /// FUNCTION LOAD [REPLACE]: returns the library's name. The code may run for
    /// `timeout_ms` (0: no limit).
    pub fn load(
        &mut self,
        vm: &Vm,
        code: &[u8],
        replace: bool,
        timeout_ms: i64,
    ) -> Result<String, String> {
        let lib = create(vm, code, timeout_ms, |name| {
            self.libs.contains_key(name) && !replace
        })?;
        let name = lib.name.clone();
        self.join(vec![lib], true)?;
        Ok(name)
    }

    /// Adds `new` libraries; a library of the same name is replaced when `replace`, an
    /// error otherwise. A function name already used by another library is an error.
    /// Nothing changes on error.
    pub fn join(&mut self, new: Vec<Library>, replace: bool) -> Result<(), String> {
        let mut replaced = Vec::new();
        for lib in &new {
            if self.libs.contains_key(&lib.name) {
                if !replace {
                    return Err(format!("Library {} already exists", lib.name));
                }
                replaced.push(lib.name.clone());
            }
        }
        for lib in &new {
            for f in lib.functions.keys() {
                let owner = self.by_function.get(f);
                let clash = owner.is_some_and(|o| !replaced.contains(o))
                    || new
                        .iter()
                        .any(|other| other.name != lib.name && other.functions.contains_key(f));
                if clash {
                    return Err(format!("Function {f} already exists"));
                }
            }
        }
        for name in &replaced {
            self.delete(name);
        }
        for lib in new {
            for f in lib.functions.keys() {
                self.by_function.insert(f.clone(), lib.name.clone());
            }
            self.libs.insert(lib.name.clone(), lib);
        }
        Ok(())
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn delete(&mut self, name: &str) -> bool {
        let Some(lib) = self.libs.remove(name) else {
            return false;
        };
        for f in lib.functions.keys() {
            self.by_function.remove(f);
        }
        true
    }

    pub fn flush(&mut self) {
        self.libs.clear();
        self.by_function.clear();
    }
}

/// The `#!<engine> name=<name>` line of a library: (engine, name, length of the line).
pub fn parse_metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let end = code
        .iter()
        .position(|&c| c == b'\n')
        .ok_or("Invalid library metadata")?;
    let parts = rudis_resp::inline::split_args(&code[..end])
        .map_err(|_| "Invalid library metadata".to_string())?;
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = String::from_utf8_lossy(&first[2.min(first.len())..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        let text = String::from_utf8_lossy(part);
        if text.len() >= 5 && text[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(text[5..].to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {text}"));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok((engine, name, end))
}

/// Letters, digits and underscores, at least one.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Compiles a library and runs its code to collect the functions it registers.
/// `exists(name)` says whether a library of that name is in the way.
pub fn create(
    vm: &Vm,
    code: &[u8],
    timeout_ms: i64,
    exists: impl Fn(&str) -> bool,
) -> Result<Library, String> {
    let (engine, name, shebang_len) = parse_metadata(code)?;
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    if !engine.eq_ignore_ascii_case(ENGINE) {
        return Err(format!("Engine '{engine}' not found"));
    }
    if exists(&name) {
        return Err(format!("Library '{name}' already exists"));
    }
    let lua = &vm.lua;
    let (env, env_meta) = load_env(vm).map_err(|e| e.to_string())?;
    let chunk = lua
        .load(&code[shebang_len..])
        .set_name("@user_function")
        .into_function()
        .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
    chunk.set_environment(env).map_err(|e| e.to_string())?;
    let registered = RefCell::new(BTreeMap::new());
    if timeout_ms > 0 {
        vm.load_deadline_ms.store(
            crate::server::unix_ms() + timeout_ms,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    let outcome = lua.scope(|scope| {
        let register =
            scope.create_function(|lua, args: Variadic<Value>| register(lua, &registered, args))?;
        lua.set_named_registry_value(REGISTER, register)?;
        let runner: Function = vm.bridge.raw_get("load")?;
        runner.call::<(bool, Value)>(chunk)
    });
    let _ = lua.set_named_registry_value(REGISTER, Value::Nil);
    if timeout_ms > 0 {
        vm.load_deadline_ms
            .store(0, std::sync::atomic::Ordering::Relaxed);
        let _ = vm.install_hook(false);
    }
    // From now on the library's globals are the sandbox's.
    env_meta
        .raw_set("__index", vm.globals.clone())
        .map_err(|e| e.to_string())?;
    match outcome {
        Ok((true, _)) => {}
        Ok((false, err)) => {
            return Err(format!(
                "Error registering functions: {}",
                load_error_text(&err)
            ))
        }
        Err(e) => {
            return Err(format!(
                "Error registering functions: ERR {}",
                lua_error_text(&e)
            ))
        }
    }
    let functions = registered.into_inner();
    if functions.is_empty() {
        return Err("No functions registered".into());
    }
    Ok(Library {
        name,
        code: code.to_vec(),
        functions,
    })
}

/// Registry name of the per-load `register_function` primitive.
const REGISTER: &str = "rudis.register_function";

/// The environment a library's code loads in, and its metatable (whose `__index` moves
/// to the sandbox's globals after the load).
fn load_env(vm: &Vm) -> mlua::Result<(Table, Table)> {
    let make: Function = vm.bridge.raw_get("library_env")?;
    make.call(())
}

/// The error of a failed load as Redis words it (`ERR ...`).
fn load_error_text(err: &Value) -> String {
    match err {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => s.to_string_lossy(),
            _ => "ERR execution failure".into(),
        },
        Value::String(s) => format!("ERR {}", s.to_string_lossy()),
        Value::Error(e) => format!("ERR {}", lua_error_text(e)),
        other => format!("ERR {}", other.type_name()),
    }
}

/// `redis.register_function(name, callback)` or `redis.register_function{...}`.
pub fn register_entry(lua: &Lua, args: Variadic<Value>) -> mlua::Result<()> {
    let f = match lua.named_registry_value::<Value>(REGISTER)? {
        Value::Function(f) => f,
        _ => {
            return Err(rt(
                "redis.register_function can only be called on FUNCTION LOAD command",
            ))
        }
    };
    f.call(args)
}

fn rt(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.to_string())
}

fn register(
    _lua: &Lua,
    registered: &RefCell<BTreeMap<String, FunctionInfo>>,
    args: Variadic<Value>,
) -> mlua::Result<()> {
    let info = match args.len() {
        1 => named_args(&args[0])?,
        2 => positional_args(&args[0], &args[1])?,
        _ => return Err(rt("wrong number of arguments to redis.register_function")),
    };
    if !valid_name(&info.name) {
        return Err(rt(BAD_NAME));
    }
    let mut registered = registered.borrow_mut();
    if registered.contains_key(&info.name) {
        return Err(rt("Function already exists in the library"));
    }
    registered.insert(info.name.clone(), info);
    Ok(())
}

fn string_arg(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Integer(n) => Some(n.to_string()),
        Value::Number(n) => Some(super::api::lua_number_text(*n)),
        _ => None,
    }
}

fn positional_args(name: &Value, callback: &Value) -> mlua::Result<FunctionInfo> {
    let name = string_arg(name)
        .ok_or_else(|| rt("first argument to redis.register_function must be a string"))?;
    let Value::Function(func) = callback else {
        return Err(rt(
            "second argument to redis.register_function must be a function",
        ));
    };
    Ok(FunctionInfo {
        name,
        description: None,
        flags: 0,
        func: func.clone(),
    })
}

fn named_args(v: &Value) -> mlua::Result<FunctionInfo> {
    let Value::Table(t) = v else {
        return Err(rt("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."));
    };
    let (mut name, mut description, mut func, mut flags) = (None, None, None, 0);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, v) = pair?;
        let Some(key) = string_arg(&k) else {
            return Err(rt(
                "named argument key given to redis.register_function is not a string",
            ));
        };
        match key.to_ascii_lowercase().as_str() {
            "function_name" => {
                name = Some(string_arg(&v).ok_or_else(|| {
                    rt("function_name argument given to redis.register_function must be a string")
                })?)
            }
            "description" => {
                let d = match &v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    other => string_arg(other)
                        .ok_or_else(|| {
                            rt("description argument given to redis.register_function must be a string")
                        })?
                        .into_bytes(),
                };
                description = Some(d);
            }
            "callback" => match v {
                Value::Function(f) => func = Some(f),
                _ => {
                    return Err(rt(
                        "callback argument given to redis.register_function must be a function",
                    ))
                }
            },
            "flags" => flags = flags_arg(&v)?,
            _ => return Err(rt("unknown argument given to redis.register_function")),
        }
    }
    let name =
        name.ok_or_else(|| rt("redis.register_function must get a function name argument"))?;
    let func = func.ok_or_else(|| rt("redis.register_function must get a callback argument"))?;
    Ok(FunctionInfo {
        name,
        description,
        flags,
        func,
    })
}

fn flags_arg(v: &Value) -> mlua::Result<u32> {
    let Value::Table(t) = v else {
        return Err(rt(
            "flags argument to redis.register_function must be a table representing function flags",
        ));
    };
    let mut flags = 0;
    for i in 1..=t.raw_len() {
        let name = match t.raw_get::<Value>(i)? {
            Value::String(s) => s.to_string_lossy(),
            _ => return Err(rt("unknown flag given")),
        };
        match shebang::NAMES.iter().find(|(_, n)| *n == name) {
            Some((f, _)) => flags |= f,
            None => return Err(rt("unknown flag given")),
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata() {
        assert_eq!(
            parse_metadata(b"#!lua name=lib\ncode"),
            Ok(("lua".into(), "lib".into(), 14))
        );
        assert_eq!(
            parse_metadata(b"code"),
            Err("Missing library metadata".into())
        );
        assert_eq!(
            parse_metadata(b"#!lua name=x"),
            Err("Invalid library metadata".into())
        );
        assert_eq!(
            parse_metadata(b"#!lua\n"),
            Err("Library name was not given".into())
        );
        assert_eq!(
            parse_metadata(b"#!lua foo=bar\n"),
            Err("Invalid metadata value given: foo=bar".into())
        );
        assert_eq!(
            parse_metadata(b"#!lua name=a name=b\n"),
            Err("Invalid metadata value, name argument was given multiple times".into())
        );
    }
}
