"""User-facing text, Chinese first, in one place for every channel."""

from knowledge.states import TicketStatus, WorkerStage

# A ticket's state as each side reads it, the same in Telegram and on the web pages: the worker's
# by stage (bot/service/tickets.py: worker_stage), as "处理中" only once an expert has claimed it.
WORKER_STATUS = {
    WorkerStage.WAITING: "等待师傅接单",
    WorkerStage.PASSED_ON: "已转给其他师傅",
    WorkerStage.HANDLING: "师傅处理中",
    WorkerStage.ANSWERED: "师傅已回复",
    WorkerStage.CLOSED: "已结束",
}
EXPERT_STATUS = {
    TicketStatus.OPEN: "待认领",
    TicketStatus.ASSIGNED: "待解答",
    TicketStatus.ANSWERED: "已解答",
    TicketStatus.CLOSED: "已结束",
}

REJECT_REPLY = (
    "这里专门解答生产一线的技术问题。工资、请假、会费、福利、评选等事务，"
    "请咨询本单位工会，或拨打职工服务热线 12351。"
)
SUGGEST_REPLY = "找到了相似的已解决案例，请看是否解决了您的问题。"
# route and confirm: the ticket is already open when the worker reads these (shown right below)
ROUTE_REPLY = "暂时没有找到能直接解决的案例，已经为您转给劳模工匠师傅，详情见下方。"
CONFIRM_REPLY = "可能是这个案例，已请师傅确认。师傅确认前请谨慎照做；如果已经按它解决了，请点「解决了」。"
# the expert's one-tap confirmation, as the message the worker receives
CASE_CONFIRMED = "师傅确认：可以按这个案例处理。\n【{title}】\n{answer}"
DEGRADED_REPLY = "知识库正在维护，已经把您的问题直接转给师傅解答，详情见下方。"

# ---- Telegram (HTML parse mode: every {placeholder} is filled with escaped text) ----------

TG_WELCOME = (
    "您好！这里是劳模工匠助企行技术服务。\n"
    "请直接发文字描述您遇到的技术问题（例如：数控车床开机报警 SV0401），"
    "我会先找相似的已解决案例，解决不了就转给劳模工匠师傅。\n"
    "/my 查看我的工单"
)
TG_WELCOME_SITE = "已记住您所在的车间：<b>{site}</b>。\n\n" + TG_WELCOME
TG_UNKNOWN_SITE = "没有找到这个二维码对应的车间（可能已经停用）。不要紧，您仍然可以直接发问题给我。"
TG_SUGGESTION = "<b>{title}</b>\n{answer}"
CASE_CREDIT = "{name}师傅解答"  # under a case: whose answer it is
TG_BTN_SOLVED = "解决了"
TG_BTN_NOT_SOLVED = "没解决，找师傅"
TG_SOLVED = "太好了！有新问题随时发给我。"
TG_TICKET_TO_EXPERT = "已转给 <b>{name}</b>{title} 师傅，回复后会在这里通知您。"
TG_TICKET_TO_TEAM = "已转给劳模工匠服务团队，师傅接单后会在这里回复您。"
TG_TICKET_HINT = "要补充说明或照片，请直接回复这条消息。"
TG_ANSWER = "<b>{name}</b>{title} 师傅回复：\n{text}"
TG_ANSWER_HINT = "还有疑问请直接回复这条消息；问题解决了请打分（5 分最满意）："
TG_WORKER_SENT = "已转给师傅，请耐心等待回复。"
TG_PHOTO_WITHOUT_TICKET = "请先用文字描述您的问题；师傅接手后，您可以回复他的消息发送照片。"
TG_MY_EMPTY = "您还没有提交过工单。直接发文字描述问题即可。"
TG_MY_HEADER = "您的工单（最新在前）："
TG_MY_LINE = "{ref} {status}｜{when}｜{text}{expert}"
TG_MY_EXPERT = "｜{name} 师傅"
TG_RATED = "谢谢您的评价（{stars}）！工单已关闭，有新问题随时发给我。"
TG_FLOOD = "您发送得太快了，请休息一下，一分钟后再发。"

TG_BIND_DONE = (
    "绑定成功！{name} 师傅，分配给您的工单会发到这里。\n"
    "点“认领”接单，直接回复工单消息即可作答；/queue 查看待处理工单。"
)
TG_BIND_FAILED = "绑定链接无效、已使用或已过期，请联系管理员重新获取。"
TG_EXPERT_TICKET = "<b>新工单 {ref}</b>{tier}\n{text}{site}\n\n认领后直接回复这条消息即可作答。"
TG_EXPERT_TEAM_TIER = "（{team}，先认领者接单）"
TEAM_TIERS = {"county": "区县团队", "industry": "行业团队", "city": "市级团队"}  # a tier without a named team
TG_EXPERT_SITE = "\n地点：{site}"
TG_BTN_CLAIM = "认领"
TG_BTN_DECLINE = "转给别人"
TG_CLAIMED = "已认领，请直接回复工单消息作答。"
TG_EXPERT_PROPOSAL = "\n\n系统认为可能是这个已解决案例，请确认：\n<b>{title}</b>\n{answer}"
TG_BTN_CASE_RIGHT = "对，按这个案例处理"
TG_BTN_CASE_WRONG = "不对，我来回答"
TG_CASE_CONFIRMED = "已确认，工人已收到这个案例。"
TG_CASE_DECLINED = "好的，请直接回复工单消息作答。"
TG_EXPERT_SOLVED_BY_CASE = "工单 {ref} 已结束：工人按推荐的案例解决了问题。"
TG_DECLINED = "已转出，谢谢。"
TG_EXPERT_ANSWER_SENT = "回答已发给工人。"
TG_EXPERT_FOLLOWUP = "<b>工单 {ref}</b> 工人补充：\n{text}\n\n回复这条消息即可作答。"
TG_EXPERT_REMINDER = "⏰ <b>提醒：工单 {ref} 还没有认领</b>，{minutes} 分钟后将转给其他师傅。\n{text}{site}"
TG_EXPERT_REASSIGNED = "工单 {ref} 已转给其他师傅（{reason}）。"
TG_REASSIGN_REASONS = {"declined": "您已转出", "silent": "长时间未处理", "deactivated": "您的账号已停用"}
TG_EXPERT_CLOSED = "工单 {ref} 已关闭，工人评分：{stars}。"
TG_EXPERT_CLOSED_UNRATED = "工单 {ref} 已关闭。"
TG_QUEUE_EMPTY = "目前没有待处理的工单。"
TG_QUEUE_HEADER = "待处理工单："
TG_QUEUE_LINE = "{ref} {status}｜{text}"
TG_ADMIN_ESCALATED = "工单 {ref} 没有师傅可接，已进入管理员队列：\n{text}"

TG_STATS = (
    "<b>统计（全部时间）</b>\n"
    "提问 {questions}：推荐案例 {suggested}（解决 {solved_by_suggestion}），"
    "转师傅 {routed}，非技术问题 {rejected}\n"
    "工单 {tickets}：已回复 {tickets_answered}，已关闭 {tickets_closed}，待处理 {tickets_open}\n"
    "首次回复中位数 {median} 分钟，平均评分 {rating}（{ratings} 个）"
)
TG_REINDEX = "索引重建：{state}（{done}/{total}）"
TG_REINDEX_STATES = {"idle": "未开始", "running": "进行中", "done": "已完成", "failed": "失败"}

TG_BUTTON_EXPIRED = "这个按钮已失效。"
TG_NOT_YOUR_TICKET = "这个工单不是分配给您的，按钮对您无效。"
TG_ERROR_NOT_FOUND = "没有找到相关工单或问题，按钮可能已经失效。"
TG_ERROR_INVALID = "内容无法处理：可能是空的、太长（问题最多 2000 字），或图片格式不支持。"
TG_ERROR_CONFLICT = "操作没有完成：工单状态已经变化（可能已被认领、已转走或已关闭）。"
TG_ERROR_INTERNAL = "系统出了点问题，已经记录下来，请稍后再试。"

TG_COMMANDS = {"start": "开始", "my": "我的工单", "queue": "待处理工单（师傅）"}

# classes (公开课 / 云课堂): sign-up and door check-in refusals, and the Telegram lines
CLASS_FULL = "名额已满"
CLASS_SIGNED_UP = "已报名"
CLASS_STARTED = "课程已开始，报名已截止"
CLASS_ATTENDED = "已签到，不能取消报名"
CLASS_DOOR_INVALID = "签到二维码无效"
CLASS_DOOR_CLOSED = "不在签到时间（开课前 2 小时到开课后 4 小时）"
CLASS_DOOR_NO_SIGNUP = "没有找到这个手机号的报名"
CLASS_KINDS = {"open": "公开课", "cloud": "云课堂"}
TG_RELATED_CLASSES = "<b>相关课程</b>"
TG_RELATED_CLASS_LINE = "· {title}（{kind}，{when}）{link}"
TG_CLASS_RECORDING = "您报名的课程「{title}」的回放已上线：\n{url}"

# needs lists (需求清单) in Telegram: to a matched expert, and to the admins when one answers
TG_NEED_MATCHED = (
    "<b>企业需求 {ref}</b>（{urgency}）\n{enterprise}{place}\n{problem}\n"
    "需要：{wanted}，涉及职工 {workers} 人\n\n服务站请您协助，是否接受？"
)
TG_NEED_PLACE = "｜{region}"
TG_NEED_SCHEDULED = "<b>企业需求 {ref}</b> 已安排：{mode}\n时间：{when}\n地点：{place}\n企业：{enterprise}"
TG_NEED_CLOSED = {
    "done": "企业需求 {ref} 已办结，谢谢您的帮助。",
    "withdrawn": "企业需求 {ref} 已撤回，不用再处理了。",
}
TG_NEED_FILED = (
    "<b>新的企业需求 {ref}</b>（{urgency}）\n{enterprise}｜{station}\n{problem}\n请在管理台匹配师傅。"
)
TG_NEED_ANSWERED = {
    "accepted": "{name} 师傅接受了企业需求 {ref}（{enterprise}），请安排服务。",
    "declined": "{name} 师傅婉拒了企业需求 {ref}（{enterprise}），请另请师傅。",
}
TG_BTN_NEED_ACCEPT = "接受"
TG_BTN_NEED_DECLINE = "婉拒"
TG_NEED_ACCEPTED = "已接受，服务站会和您约定时间地点。"
TG_NEED_DECLINED = "已婉拒，谢谢。"
NEED_URGENCY = {"normal": "一般", "urgent": "较急", "critical": "紧急"}
NEED_HELP = {"online": "线上指导", "onsite": "上门服务", "training": "技能培训"}

# ---- WeChat service account and WeCom notifications (bot/wechat/notifier.py) -------------------
# template fields (thing ≤ 20 characters: the notifier clips them)
WX_EXPERT_FALLBACK = "劳模工匠师傅"  # the answer's author when the expert is gone
WX_NO_SITE = "未注明车间"
WX_FOLLOWUP = "职工追问：{text}"
WX_CARD_TITLE = {
    "assigned": "新的提问请您解答",
    "offered": "新的提问转给了您的团队",
    "message": "职工追问了您的提问",
    "reminded": "提问还在等您认领，即将转给其他师傅",
    "escalated": "有提问没有师傅接单，请服务站协调",
    "need_filed": "有企业提交了技术需求，请匹配师傅",
}
WX_NEED_CARD_BODY = "{time}\n企业：{enterprise}（{urgency}）\n{problem}"
WX_CARD_BODY = "{time}\n车间：{site}\n{text}"
WX_CARD_BUTTON = "打开专家台"
WX_CARD_ADMIN_BUTTON = "打开管理台"
