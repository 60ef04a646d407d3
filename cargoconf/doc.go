// Package cargoconf writes the Cargo files cargo-oidc needs without breaking a
// user's configuration: it mangles registry names the way Cargo does for
// environment variables, validates registry names by Cargo's rules, merges our
// settings into a .cargo/config.toml, sets a token in a credentials file, and reads
// and writes those files only inside the workspace and the runner's temp folder,
// atomically, keeping their owner and mode.
//
// # Merging by editing text
//
// Decoding TOML into a map and encoding it again loses comments, blank lines, key
// order and style. Merge therefore checks the file with BurntSushi/toml (a file that
// does not parse is an error naming the file, line and column), then edits the text:
// a small scanner finds table headers (quoted keys, whitespace and comments included,
// multi-line strings and arrays skipped) and the key lines of our tables. Our keys are
// changed in place, added at the end of their table, or written in a new table at
// the end of the file. Everything else stays byte for byte, a re-run with the same
// settings gives identical bytes, and no table is ever duplicated. Our keys written
// as dotted keys elsewhere or as inline tables are refused with a *FormError that
// says how to rewrite them. After editing, the result is parsed again and compared
// with the original: every original key keeps its value, ours have the intended
// values, nothing else appears; otherwise the edit is refused.
//
// Our keys are: [registries.<name>] index and credential-provider (when set);
// [registry] default (when Default; an existing default is overwritten, since
// CARGO_REGISTRY_DEFAULT overrides it anyway); [source.crates-io] replace-with (when
// ReplaceCratesIO). Credentials files get [registries.<name>] token or [registry]
// token.
//
// # Source replacement
//
// Replacement is written as
//
//	[registries.artifactory]
//	index = "sparse+https://example.jfrog.io/artifactory/api/cargo/repo/index/"
//	credential-provider = "cargo:token"
//
//	[source.crates-io]
//	replace-with = "artifactory"
//
// with no [source.<name>] entry: Cargo resolves a replace-with name that is no
// [source] to the [registries] entry of that name. Checked with cargo 1.95 against
// a local auth-required sparse registry (see cargo_test.go): this layout resolves
// and downloads crates.io dependencies through the registry, and Cargo sends the
// token of CARGO_REGISTRIES_<NAME>_TOKEN or of the credentials file because the
// source is the named registry itself. The two other layouts work too but make Cargo
// print "note: name of alternative registry ... set to ..." on every run:
// [source.<name>] registry = "<index>" next to [registries.<name>] with the same
// name, and a separate [source.<name>-remote] (as JFrog's guide does).
//
// An existing replace-with that names our registry, or a source whose registry is our
// index (the "-remote" layout), is kept as it is. An existing replace-with naming
// anything else is a *ConflictError: silently redirecting a user's crates.io
// replacement would be worse than failing. A [source.<name>] that is not our index
// is a conflict too, because Cargo would pick it instead of the registry.
//
// # Conflicts
//
// A registry of the same name with a different index is a *ConflictError naming the
// file, both indexes and what to do. So is another registry whose name Cargo maps
// to the same environment variables (for example "my_reg" next to "my-reg"), as
// CARGO_REGISTRIES_MY_REG_TOKEN would then authenticate both.
//
// # Files
//
// Folders is the only way the action touches Cargo's files, its own binary and
// the private folder where the credential provider records the tokens it mints.
// It holds an os.Root for each folder the action may use (the workspace and the
// runner's temp folder), so nothing outside them is read, written or deleted,
// whatever links the job planted. A symbolic link on the way, in a folder or as
// the file itself, is followed while it stays inside the folders: a relative
// link, or an absolute one naming a path in a folder by its container or host
// path. A config file linked to another file of the workspace is updated in
// place and stays a link. A link that leaves (a linked .cargo folder, a config
// linked to /proc/self/pagemap) is refused with a *LinkError naming the link and
// its target. Credentials files follow the same rule.
//
// PlanConfig and PlanCredentials read the file (at most MaxFileSize, 1 MiB;
// a larger file, a FIFO or a device is refused before it is read) and compute
// the new content; Apply writes each file atomically (a temporary file in the
// same folder, synced, renamed over the file, folder synced) and Rollback puts
// back what Apply wrote. An existing file keeps its owner and mode, on success
// and on rollback; only an existing credentials file loses its group and other
// permissions, since it now holds a token. New config files are 0644, new
// credentials files 0600, and new files and folders belong to the given Owner.
// Which file is the credentials file comes from the plan (Kind), never from a
// mode. Install writes the provider binary through the same writer.
//
// The post stage removes what the main stage wrote without following any link:
// RemoveCreated deletes a file only while its device, inode, size and SHA-256
// are the FileID recorded when it was written, and RemoveCredential takes our
// token out of a file that existed before. Errors never contain a token, nor
// the parser's message for a credentials file.
//
// A private folder for a file another process appends secrets to is created
// by MkdirPrivate (mode 0700, given to the Owner, never one that exists
// already); a later stage reads the file with ReadBounded and deletes the
// folder with RemoveAllBeneath, neither of which follows any link.
package cargoconf
