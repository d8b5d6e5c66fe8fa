"""The catalogue: each English message template the registry raises, with its Chinese
template (same ``{parameters}``). Most specific first: the first that matches decides."""

from __future__ import annotations

__all__ = ["CATALOGUE"]

CATALOGUE: tuple[tuple[str, str], ...] = (
    # -- the inspector's desk (registry.enforcement.follows, .company_lists) ------------
    ("this company is followed already", "已关注该企业"),
    ("an account follows at most {count}", "每个账户最多关注 {count} 家企业"),
    ("a name has at most {count} characters", "名称最多 {count} 个字"),
    ("a note has at most {count} characters", "备注最多 {count} 个字"),
    (
        "the columns are 统一社会信用代码 (credit_code) and, optionally, 单位名称 (name); "
        "unknown: {columns}",
        "列应为统一社会信用代码（credit_code）及可选的单位名称（name）；无法识别的列：{columns}",
    ),
    ("the table has a header and no rows", "表格只有表头，没有数据行"),
    ("no credit code", "缺少统一社会信用代码"),
    ("at most {count} rows a check", "每次核查最多 {count} 行"),
    # -- problem titles and details (api.errors, api.limits) ---------------------------
    ("Outside what the log holds", "超出日志所含的范围"),
    ("A valid bearer token is needed", "需要有效的访问令牌"),
    ("The token's role does not allow this", "令牌的角色无权进行此操作"),
    ("The request is not valid", "请求无效"),
    ("The document does not verify", "文件未通过验证"),
    ("Not found", "未找到"),
    ("Not Found", "未找到"),
    ("Method Not Allowed", "不支持该请求方法"),
    ("Conflict", "冲突"),
    ("The database is not ready", "数据库尚未就绪"),
    ("The log signs nothing for now", "日志暂停签署"),
    (
        "the log of {code} signs nothing until its peers confirm its newest checkpoint, "
        "as after a restore from a backup: the node's operator runs `registry log standing`",
        "{code} 的日志在其他成员节点确认其最新检查点之前暂停签署（从备份恢复后即如此）："
        "请本节点的运维人员运行 `registry log standing`",
    ),
    (
        "the log of {code} signs nothing: {peer} holds its checkpoint of size {size}, "
        "larger than this node's, and signing now would fork the log: the node's "
        "operator runs `registry log standing`",
        "{code} 的日志暂停签署：{peer} 持有其规模为 {size} 的检查点，大于本节点所持有的，"
        "此时签署将使日志分叉：请本节点的运维人员运行 `registry log standing`",
    ),
    (
        "the log of {code} signs nothing: {peer} holds another checkpoint for a size this "
        "node signed: the node's operator runs `registry log standing`",
        "{code} 的日志暂停签署：{peer} 持有本节点已签署规模的另一个检查点："
        "请本节点的运维人员运行 `registry log standing`",
    ),
    ("Internal error", "内部错误"),
    ("the server failed; see its log", "服务器出错，详见服务器日志"),
    ("The request body is too large", "请求内容过大"),
    (
        "the body is over {limit} bytes, the limit of this operation",
        "请求内容超过本操作的上限 {limit} 字节",
    ),
    ("The database is busy", "数据库繁忙"),
    ("Not allowed from this address", "不允许从该地址访问"),
    ("this address may not read the metrics", "该地址无权读取运行指标"),
    (
        "a long write (an import, say) holds the database; try again in {seconds} seconds",
        "数据库正被耗时的写入（例如导入）占用，请 {seconds} 秒后重试",
    ),
    ("invalid fields: {fields}", "以下字段无效：{fields}"),
    ("the batch is invalid", "批量请求无效"),
    ("the check is invalid", "核查请求无效"),
    ("the {what} is invalid", "{what} 无效"),
    ("{count} invalid field(s)", "{count} 个字段无效"),
    (
        "{count} problem(s) in the batch: nothing is issued",
        "批量请求中有 {count} 处问题：未签发任何记录",
    ),
    # -- tokens and roles ----------------------------------------------------------------
    (
        "send a registry token as `Authorization: Bearer yrd_...`",
        "请以 `Authorization: Bearer yrd_...` 的形式发送登记系统的令牌",
    ),
    ("the token is unknown or revoked", "令牌不存在或已被吊销"),
    (
        "role {role} may not do this; it needs {needed}",
        "角色 {role} 无权进行此操作，需要 {needed}",
    ),
    ("role {role} may not act for {authority}", "角色 {role} 无权代表 {authority} 操作"),
    (
        "unknown role {role}: {roles} or issuer:CN-xx",
        "未知角色 {role}：应为 {roles} 或 issuer:CN-xx",
    ),
    ("give the token a name of 1 to 200 characters", "请为令牌起一个 1 至 200 个字符的名称"),
    ("a token's expiry must lie in the future", "令牌的失效时间必须晚于现在"),
    # -- accounts and their administration (registry.accounts, registry.administration) --
    (
        "a user name has 3 to 64 characters: lower-case letters, digits, '.', '_' or "
        "'-', beginning with a letter or digit",
        "用户名为 3 至 64 个字符：小写字母、数字、“.”、“_”或“-”，以字母或数字开头",
    ),
    ("a display name has 1 to 100 characters", "显示名称为 1 至 100 个字符"),
    (
        "an employer's account names its company's credit code",
        "用人单位账户须填写本单位的统一社会信用代码",
    ),
    ("a company name has at most 200 characters", "单位名称最多 200 个字符"),
    (
        "only an employer's account (verifier) names a company",
        "只有用人单位账户（verifier）填写单位",
    ),
    (
        "federation is a node's role, not a person's: make a token",
        "federation 是节点的角色，不是个人的角色：请为其签发令牌",
    ),
    ("a password has at least {count} characters", "密码至少 {count} 个字符"),
    ("a password has at most 256 characters", "密码最多 256 个字符"),
    ("the user name {username} is taken", "用户名 {username} 已被使用"),
    ("no user {username}", "没有用户 {username}"),
    (
        "an administrator cannot disable their own account or change their role",
        "管理员不能停用自己的账户，也不能更改自己的角色",
    ),
    ("the node's last active administrator stays one", "本节点最后一名在用的管理员必须保留"),
    ("the account {username} is not disabled", "账户 {username} 未被停用"),
    (
        "this is a person's own token row: disable the account instead",
        "这是个人账户自身的令牌记录：请改为停用该账户",
    ),
    (
        "the public pages' token row is never presented: nothing to revoke",
        "公开页面的令牌记录从不对外出示：无需吊销",
    ),
    (
        "a criteria hash is 64 lower-case hexadecimal characters",
        "查询条件哈希为 64 个小写十六进制字符",
    ),
    ("not migrated to the latest revision", "数据库尚未迁移到最新版本"),
    # -- text (registry.text) -------------------------------------------------------------
    (
        "a person's name cannot hold {char}, character {position}",
        "姓名中不能有 {char}（第 {position} 个字符）",
    ),
    (
        "an organisation's name cannot hold {char}, character {position}",
        "单位名称中不能有 {char}（第 {position} 个字符）",
    ),
    (
        "a reference cannot hold {char}, character {position}",
        "编号中不能有 {char}（第 {position} 个字符）",
    ),
    (
        "text cannot hold {char}, character {position}",
        "文本中不能有 {char}（第 {position} 个字符）",
    ),
    ("a person's name has at least one letter", "姓名中至少要有一个文字"),
    ("an organisation's name has at least one letter", "单位名称中至少要有一个文字"),
    # -- resident ID numbers (registry.ids) ---------------------------------------------
    (
        "a resident ID number has 18 characters (or 15 for a legacy one), not {count}",
        "公民身份号码应为 18 位（旧版为 15 位），而不是 {count} 位",
    ),
    (
        "a resident ID number is 17 digits and a digit or X",
        "公民身份号码应为 17 位数字加一位数字或 X",
    ),
    ("a 15-digit legacy ID number has digits only", "15 位旧版身份证号码只能由数字组成"),
    ("the first 17 characters of an ID number are digits", "身份证号码的前 17 位应为数字"),
    (
        "the area code (characters 1 to 6) is in no province",
        "地址码（第 1 至 6 位）不属于任何省份",
    ),
    (
        "the birth date (characters 7 to 14) is not a real date",
        "出生日期码（第 7 至 14 位）不是真实的日期",
    ),
    (
        "the birth date (characters 7 to 14) is before 1900 or in the future",
        "出生日期码（第 7 至 14 位）早于 1900 年或晚于今天",
    ),
    (
        "the check character (the last one) does not match the first 17 digits: "
        "the number was probably mistyped",
        "校验码（最后一位）与前 17 位不符：号码可能输错了",
    ),
    ("a masked ID number reads 1234**********567X", "脱敏的身份证号码形如 1234**********567X"),
    # -- unified social credit codes ----------------------------------------------------
    (
        "a unified social credit code has 18 characters, not {count}",
        "统一社会信用代码应为 18 位，而不是 {count} 位",
    ),
    (
        "{code} uses characters outside GB 32100 (digits and capitals except I, O, S, V, Z; "
        "characters 3 to 8 are the region's digits)",
        "{code} 含有 GB 32100 以外的字符（应为数字和除 I、O、S、V、Z 以外的大写字母；"
        "第 3 至 8 位为行政区划数字）",
    ),
    (
        "the first 17 characters of a credit code use its alphabet",
        "统一社会信用代码的前 17 位应使用其规定的字符",
    ),
    (
        "the check character does not match: the code was probably mistyped "
        "(for a known early pilot code, say pilot_code)",
        "校验码不符：代码可能输错了（如确属早期试点代码，请注明 pilot_code）",
    ),
    # -- provinces and categories -------------------------------------------------------
    (
        "{code} is not a province code: use ISO 3166-2 (CN-SH), GB/T 2260 (310000) "
        "or its name (上海市)",
        "{code} 不是省级行政区代码：请使用 ISO 3166-2（如 CN-SH）、GB/T 2260（如 310000）"
        "或其名称（如 上海市）",
    ),
    (
        "{value} is not a category; expected one of: {allowed}",
        "{value} 不是专业类别，应为以下之一：{allowed}",
    ),
    (
        "{code} ({label}) is no longer a role (a listing names persons in the terms of "
        "《安全生产严重失信主体名单管理办法》(应急管理部令第11号)); expected one of: {choices}",
        "{code}（{label}）已不再作为相关人员职务：名单按《安全生产严重失信主体名单管理办法》"
        "（应急管理部令第11号）的表述列明人员，应为以下之一：{choices}",
    ),
    (
        "is not {what}; expected one of: {choices}",
        "不是有效的取值（{what}），应为以下之一：{choices}",
    ),
    ("each measure code at most once", "每个措施代码只能填写一次"),
    (
        "the agreement {id} is a demonstration (it cites a synthetic document): only a "
        "node running the demo (REGISTRY_DEMO, registry serve --demo) publishes one",
        "协议 {id} 是演示协议（所引文件为虚构）：只有运行演示的节点"
        "（REGISTRY_DEMO，registry serve --demo）才能发布",
    ),
    (
        "relies on a demonstration agreement, which cites a synthetic document: it counts "
        "only in the demo (--demo)",
        "依据的是演示协议（所引文件为虚构），仅在演示中有效（--demo）",
    ),
    # -- days and times (registry.calendar) ---------------------------------------------
    ("a day is written {forms}", "日期应写作 {forms}"),
    ("is not a real date (no such month or day)", "不是真实的日期（没有这个月或这一天）"),
    ("must lie between {first} and {last}", "应在 {first} 至 {last} 之间"),
    ("{text} is not an ISO 8601 date and time", "{text} 不是 ISO 8601 格式的日期时间"),
    ("{what} needs a time zone, e.g. {one} or {other}", "{what} 需要带时区，例如 {one} 或 {other}"),
    (
        "{what} must lie between the years {first} and {last}",
        "{what} 应在 {first} 年至 {last} 年之间",
    ),
    # -- the questions of a verification ------------------------------------------------
    (
        "give id_number, or registration_number and name",
        "请提供身份证号码（id_number），或注册编号（registration_number）和姓名（name）",
    ),
    (
        "a registration number is looked up with the holder's name",
        "按注册编号查询时须同时提供持证人姓名",
    ),
    (
        "give the resident ID number, or the registration number and name",
        "请提供公民身份号码，或注册编号和姓名",
    ),
    (
        "a registration number is looked up together with the holder's name",
        "按注册编号查询时须同时提供持证人姓名",
    ),
    # -- uploaded tables (batch verification, checks) -----------------------------------
    ("at most {count} rows a batch", "每批最多 {count} 行"),
    ("the CSV has no rows", "CSV 文件没有数据行"),
    ("the table has no rows", "表格没有数据行"),
    (
        "CSV columns are {columns}; unknown: {unknown}",
        "CSV 的列应为 {columns}；无法识别的列：{unknown}",
    ),
    ("the CSV cannot be read: {why}", "无法读取 CSV 文件：{why}"),
    ("the CSV is not UTF-8", "CSV 文件不是 UTF-8 编码"),
    (
        "the CSV is neither UTF-8 nor GB 18030 text",
        "CSV 文件既不是 UTF-8 也不是 GB 18030 编码的文本",
    ),
    ("the CSV is not {charset} text", "CSV 文件不是 {charset} 编码的文本"),
    ("unknown charset {charset}", "未知的字符集 {charset}"),
    ("the file is not an XLSX workbook", "文件不是 XLSX 工作簿"),
    ("the file is not an XLSX workbook openpyxl can read", "文件不是可读取的 XLSX 工作簿"),
    (
        "the workbook would unpack to {size} bytes, over the {limit} bytes it may hold",
        "工作簿解压后为 {size} 字节，超过上限 {limit} 字节",
    ),
    (
        "the workbook holds {count} files, over the {limit} it may hold",
        "工作簿包含 {count} 个文件，超过上限 {limit} 个",
    ),
    (
        "a file in the workbook unpacks to more than {ratio} times its packed size",
        "工作簿中有文件解压后超过其压缩大小的 {ratio} 倍",
    ),
    (
        "the sheet declares {count} cells, over the {limit} it may hold",
        "工作表声明了 {count} 个单元格，超过上限 {limit} 个",
    ),
    ("the sheet holds more than {limit} cells", "工作表的单元格超过 {limit} 个"),
    ("a row has a value beyond the first {count} columns", "有一行在前 {count} 列之外还有内容"),
    ("the workbook cannot be read: {why}", "无法读取工作簿：{why}"),
    ("the uploaded file is neither CSV nor XLSX", "上传的文件既不是 CSV 也不是 XLSX"),
    ("upload a .csv or .xlsx file", "请上传 .csv 或 .xlsx 文件"),
    ("the form has no parts", "表单是空的"),
    ("the form has no field named file", "表单中没有名为 file 的字段"),
    ("upload the table in the form field `file`", "请在表单字段 `file` 中上传表格"),
    (
        "send JSON, CSV (text/csv), XLSX ({xlsx}) or a form upload (multipart/form-data), "
        "not {media}",
        "请发送 JSON、CSV（text/csv）、XLSX（{xlsx}）或表单上传（multipart/form-data），"
        "而不是 {media}",
    ),
    # -- import files (registry.bulk, registry import) -------------------------------------
    ("{count} problem(s) in {file}: nothing issued", "{file} 中有 {count} 处问题：未签发任何记录"),
    ("row", "行"),
    ("column", "列"),
    ("reason", "原因"),
    ("{file} has no rows to import", "{file} 中没有可导入的行"),
    (
        "{count} problem(s) in the file: nothing is issued",
        "文件中有 {count} 处问题：未签发任何记录",
    ),
    # -- imports from the authority's console (registry.bulk.staged) ------------------------
    (
        "the import was interrupted: nothing is issued; upload the file again",
        "导入被中断：未签发任何记录；请重新上传文件",
    ),
    (
        "the file changed after it was checked: nothing is issued; upload it again",
        "文件在检查后被改动：未签发任何记录；请重新上传",
    ),
    (
        "the file is no longer kept: nothing is issued; upload it again",
        "文件已不再保留：未签发任何记录；请重新上传",
    ),
    ("the import failed: nothing is issued", "导入失败：未签发任何记录"),
    (
        "issued {count} {kind} record(s) for {authority}",
        "已为 {authority} 签发 {count} 条 {kind} 记录",
    ),
    ("wrote the {kind} template to {path}", "已将 {kind} 模板写入 {path}"),
    (
        "give FILE, --type and --authority (or --template TYPE)",
        "请提供 FILE、--type 和 --authority（或 --template TYPE）",
    ),
    ("unknown type {kind}: use one of {types}", "未知的记录类型 {kind}：请使用 {types} 之一"),
    ("unknown column for this type", "此类记录没有这一列"),
    ("the column appears twice", "这一列出现了两次"),
    ("required column is missing", "缺少必填的列"),
    ("{name}: only .csv and .xlsx files can be imported", "{name}：只能导入 .csv 和 .xlsx 文件"),
    ("{name} is empty: the first row names the columns", "{name} 是空的：第一行应为列名"),
    (
        "{name} has more than {count} rows: import at most {most} a file",
        "{name} 超过 {count} 行：每个文件最多导入 {most} 行",
    ),
    (
        "{name}: row {row} has a value in column {column}, beyond the {count} columns of "
        "the template",
        "{name}：第 {row} 行的 {column} 列有内容，超出了模板的 {count} 列",
    ),
    ("the CSV file cannot be read: {why}", "无法读取 CSV 文件：{why}"),
    (
        "the CSV file is neither UTF-8 nor GB 18030 text",
        "CSV 文件既不是 UTF-8 也不是 GB 18030 编码的文本",
    ),
    ("{name} is not an XLSX workbook openpyxl can read", "{name} 不是可读取的 XLSX 工作簿"),
    # -- issuing (registry.issuing) -------------------------------------------------------
    ("is in the future", "晚于今天"),
    (
        "no active qualification {reference} in the registry",
        "登记系统中没有有效的资格证书 {reference}",
    ),
    (
        "certificate number {reference} is ambiguous: give the credential id",
        "证书编号 {reference} 对应多条记录：请提供凭证编号",
    ),
    ("qualification {reference} is {state}", "资格证书 {reference} 的状态为 {state}"),
    ("qualification {reference} belongs to someone else", "资格证书 {reference} 属于他人"),
    (
        "the same credit (holder, provider, course, completion date) is already issued: {existing}",
        "相同的学时（持证人、培训机构、课程、完成日期）已经签发：{existing}",
    ),
    (
        "the same credit (holder, provider, course, completion date) as row {row}",
        "与第 {row} 行为相同的学时（持证人、培训机构、课程、完成日期）",
    ),
    (
        "the same credit (holder, provider, course, completion date) as {earlier}",
        "与 {earlier} 为相同的学时（持证人、培训机构、课程、完成日期）",
    ),
    (
        "{id} has a change scheduled for {day} ({change}): cancel it (cancel-scheduled) "
        "or wait for its day before deciding another",
        "{id} 已有定于 {day} 生效的变更（{change}）：请先取消（cancel-scheduled），"
        "或待其生效后再作其他决定",
    ),
    (
        "the change scheduled for {id} ({change}, {action}) took effect on {day}: it can "
        "no longer be cancelled",
        "{id} 的预定变更（{change}，{action}）已于 {day} 生效，不能再取消",
    ),
    ("nothing is scheduled for {id} to cancel", "{id} 没有可取消的预定变更"),
    ("no receipt {id}", "没有回执 {id}"),
    (
        "role {role} may not read the receipts of {authority}",
        "角色 {role} 无权查看 {authority} 的回执",
    ),
    ("{id} is a record of {authority}", "{id} 是 {authority} 的记录"),
    ("{id} is replaced twice in this batch", "{id} 在本批中被更正了两次"),
    ("{id} is {state}: a final state cannot be corrected", "{id} 的状态为 {state}：终态不能更正"),
    ("{id} is a {kind}, not a {other}", "{id} 是 {kind}，不是 {other}"),
    ("{day} is in the future", "{day} 晚于今天"),
    ("precedes the record's first day, {day}", "早于该记录的首日 {day}"),
    # -- the registration rules (registry.issuing.registrations) -------------------------
    (
        "registration {number} ({authority}) was revoked on {day} by decision {decision}: a "
        "new registration may take effect from {earliest} at the earliest",
        "注册 {number}（{authority}）已于 {day} 被撤销（决定文号 {decision}）：五年内不予重新注册，"
        "新的注册最早自 {earliest} 起生效",
    ),
    (
        "overlaps registration {other}, {first} to {last}, in force on {day}: an engineer is "
        "registered with one employer at a time",
        "与注册 {other}（{first} 至 {last}）重叠，该注册于 {day} 仍然有效：注册安全工程师不得同时"
        "受聘于两个或两个以上单位",
    ),
    ("is required for a change registration", "变更注册必须填写所变更的注册"),
    (
        "is only for a change registration (kind change)",
        "仅变更注册（注册类型为变更注册）可填写",
    ),
    (
        "registration number {reference} is ambiguous: give the credential id",
        "注册编号 {reference} 对应多条记录：请提供凭证编号",
    ),
    ("registration {reference} belongs to someone else", "注册 {reference} 属于他人"),
    ("no registration {reference} in the registry", "登记系统中没有注册 {reference}"),
    (
        "registration {reference} is a registration of {authority}: a change is registered "
        "by the authority that holds the registration",
        "注册 {reference} 是 {authority} 的注册：变更注册由原注册机关办理",
    ),
    (
        "registration {reference} is {state}: only an active registration can be changed",
        "注册 {reference} 的状态为 {state}：只有有效的注册可以变更",
    ),
    (
        "registration {reference} has a change scheduled ({change}): cancel it or wait for its day",
        "注册 {reference} 已有预定变更（{change}）：请先取消，或待其生效",
    ),
    (
        "a change registration keeps the term: it ends on {day}, the last day of "
        "registration {number}",
        "变更注册沿用原注册有效期：应于 {day}（注册 {number} 的最后一日）截止",
    ),
    (
        "a change registration starts within the term of registration {number}, {first} to {last}",
        "变更注册的生效日期应在注册 {number} 的有效期（{first} 至 {last}）之内",
    ),
    (
        "precedes the last change of registration {number}, effective {day}",
        "早于注册 {number} 最近一次变更的生效日期 {day}",
    ),
    (
        "is more than a year ahead: registration {number} can be superseded by {day}",
        "超过一年以后：注册 {number} 最迟可于 {day} 被取代",
    ),
    ("{reference} is changed twice in this batch", "{reference} 在本批中被变更了两次"),
    (
        "a record is superseded only by issuing its correction (replaces) or a change "
        "registration (changes), not by a status change",
        "记录只能因签发更正记录（replaces）或变更注册（changes）而被取代，不能通过状态变更取代",
    ),
    # -- not found and conflicts --------------------------------------------------------
    ("no credential {id}", "没有凭证 {id}"),
    ("no record {id}", "没有记录 {id}"),
    ("no authority {code}", "没有机关 {code}"),
    ("no subscription {id}", "没有订阅 {id}"),
    ("no token {id}", "没有令牌 {id}"),
    ("no key {reference}", "没有密钥 {reference}"),
    ("no trust-list version {version}", "没有第 {version} 版信任列表"),
    ("no trust list has been published yet", "尚未发布任何信任列表"),
    ("no published agreement {id}", "没有已发布的协议 {id}"),
    ("credential {id} is already stored", "凭证 {id} 已存在"),
    ("credential {id} clashes with a stored one", "凭证 {id} 与已存储的凭证冲突"),
    ("a credential clashes with a stored one", "有凭证与已存储的凭证冲突"),
    ("a credential id repeats in the batch", "同一批中凭证编号重复"),
    ("a record is replaced twice in one batch", "同一批中一条记录被更正了两次"),
    (
        "a request with this Idempotency-Key is being processed; retry to get its result",
        "使用该 Idempotency-Key 的请求正在处理，请稍后重试以取得其结果",
    ),
    ("the record is {state}: that is final", "该记录状态为 {state}，不能再变更"),
    (
        "{action} is not allowed for a {state} {kind}; allowed: {allowed}",
        "{kind} 处于 {state} 状态，不能进行 {action}；可进行：{allowed}",
    ),
    (
        "credit repair can lift a listing from {day} (12 months after listing), not {asked}",
        "信用修复最早可自 {day} 起移出（列入满 12 个月），不能为 {asked}",
    ),
    ("a {action} takes effect by {day}", "{action} 最晚于 {day} 生效"),
    ("a {action} takes effect today or earlier", "{action} 只能于今日或之前生效"),
    ("{day} is too far ahead", "{day} 太远：最多一年以后"),
    ("changes follow one another in time", "变更须按时间先后"),
    ("precedes the last change, effective {day}", "早于上一次变更的生效日 {day}"),
    (
        "a change cannot take effect before the record it changes",
        "变更的生效日不能早于所变更的记录",
    ),
    ("bad Idempotency-Key", "Idempotency-Key 无效"),
    ("1 to 255 printable ASCII characters", "应为 1 至 255 个可打印的 ASCII 字符"),
    ("already used with a different request", "已用于另一个不同的请求"),
    (
        "this Idempotency-Key was used with a different request",
        "该 Idempotency-Key 已用于另一个不同的请求",
    ),
    # -- registry verify: the checks' names and what the trust list says ---------------
    ("verification", "核验"),
    ("file", "文件"),
    ("credential", "凭证"),
    ("QR code", "二维码"),
    ("holder", "持有人"),
    ("trust list", "信任列表"),
    ("genesis", "创世版本"),
    ("type", "类型"),
    ("signatures of every party", "各方签名"),
    ("signature and key", "签名与密钥"),
    ("status", "状态"),
    ("status ({purpose})", "状态（{purpose}）"),
    ("checkpoint of {authority}", "{authority} 日志的检查点"),
    ("inclusion in its log", "已收入其日志"),
    ("report", "核验报告"),
    ("report signature", "报告签名"),
    ("evidence", "证据"),
    ("checkpoints", "检查点"),
    ("credentials relied on", "所依据的凭证"),
    ("log", "日志"),
    ("claims", "报告所述"),
    ("verdict", "结论"),
    ("qualification {id}", "资格证书 {id}"),
    ("registration {id}", "注册 {id}"),
    ("continuing-education credit {id}", "继续教育学时 {id}"),
    ("listing {id}", "失信名单 {id}"),
    ("no trust list given: pass --trust-list FILE", "未提供信任列表：请使用 --trust-list FILE"),
    (
        "no genesis digest pinned: pass --genesis DIGEST (the digest the federation "
        "published), or --unsafe-genesis-from-file to trust the file's",
        "未固定创世摘要：请用 --genesis DIGEST 给出联盟公布的摘要，"
        "或以 --unsafe-genesis-from-file 信任文件自带的创世版本",
    ),
    (
        "NOT PINNED: taken from the file itself ({pin}); unsafe",
        "未固定：取自文件本身（{pin}），不安全",
    ),
    (
        "version {version}, chain from genesis {genesis} holds",
        "第 {version} 版，自创世版本 {genesis} 起的链成立",
    ),
    ("the chain is empty", "链为空"),
    (
        "the trust-list file has no version 1 and no --genesis was given",
        "信任列表文件中没有第 1 版，也未提供 --genesis",
    ),
    # -- pydantic's own messages --------------------------------------------------------
    ("Field required", "必填"),
    ("String should have at most {count} characters", "最多 {count} 个字符"),
    ("String should have at most {count} character", "最多 {count} 个字符"),
    ("String should have at least {count} characters", "至少 {count} 个字符"),
    ("String should have at least {count} character", "至少 {count} 个字符"),
    ("String should match pattern {pattern}", "格式不符（应匹配 {pattern}）"),
    ("Input should be a valid string", "应为文本"),
    ("Input should be a valid integer", "应为整数"),
    ("Input should be a valid integer, {why}", "应为整数"),
    ("Input should be a valid number", "应为数字"),
    ("Input should be a valid number, {why}", "应为数字"),
    ("Input should be a finite number", "应为有限的数字"),
    ("Input should be a valid boolean", "应为是或否（true / false）"),
    ("Input should be a valid boolean, {why}", "应为是或否（true / false）"),
    ("Input should be a valid list", "应为列表"),
    ("Input should be a valid array", "应为数组"),
    ("Input should be a valid dictionary", "应为对象"),
    ("Input should be an object", "应为对象"),
    ("Input should be a valid dictionary or instance of {model}", "应为对象"),
    ("Input should be a valid date", "应为日期"),
    ("Input should be a valid date, {why}", "应为日期"),
    ("Input should be a valid date or datetime, {why}", "应为日期"),
    ("Input should be a valid datetime, {why}", "应为日期时间"),
    ("Input should be a valid URL, {why}", "应为有效的网址"),
    ("Extra inputs are not permitted", "不允许的字段"),
    ("Input should be greater than or equal to {limit}", "应大于或等于 {limit}"),
    ("Input should be less than or equal to {limit}", "应小于或等于 {limit}"),
    ("Input should be greater than {limit}", "应大于 {limit}"),
    ("Input should be less than {limit}", "应小于 {limit}"),
    (
        "List should have at most {most} items after validation, not {count}",
        "最多 {most} 项，而不是 {count} 项",
    ),
    (
        "List should have at least {least} items after validation, not {count}",
        "至少 {least} 项，而不是 {count} 项",
    ),
    (
        "List should have at least {least} item after validation, not {count}",
        "至少 {least} 项，而不是 {count} 项",
    ),
    ("Invalid JSON: {why}", "不是有效的 JSON：{why}"),
    ("JSON input should be string, bytes or bytearray", "JSON 输入应为文本"),
    ("Unable to extract tag using discriminator {tag}", "缺少 {tag}"),
    (
        "Input tag {tag} found using {field} does not match any of the expected tags: {tags}",
        "{field} 的值 {tag} 不是以下之一：{tags}",
    ),
    ("Input should be {expected}", "应为 {expected}"),
    (
        "the decision to confirm is not one this page showed",
        "要确认的内容不是本页面显示的内容，未作任何签发",
    ),
    ("the decision waited too long: fill in the form again", "等待确认时间过长，请重新填写表单"),
)
