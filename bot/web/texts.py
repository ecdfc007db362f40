"""Chinese text the web pages' scripts show (the templates hold their own static text).

Passed to each page as JSON, so the scripts carry no user-facing strings of their own.
"""

from __future__ import annotations

from bot.texts import EXPERT_STATUS, WORKER_STATUS
from knowledge.states import LabelSource, Proposal, Tier, WorkerStage

# the question box's example when the site's industry has no case (bot/web/pages.py)
EXAMPLE_QUESTION = "设备一开机就报警，按复位也复不掉"

ERRORS = {
    "network": "网络连接失败，请检查网络后重试。",
    "tooMany": "操作太频繁了，请稍等一会儿再试。",
    "invalid": "内容不符合要求：",
    "notFound": "没有找到，可能已失效。",
    "unavailable": "服务暂时不可用：",
    "failed": "出错了，请稍后再试。",
}

CHAT = ERRORS | {
    "you": "我",
    "searching": "正在查找以往解决过的案例…",
    "empty": "请先写下您的问题。",
    "tooLong": "问题太长了，请控制在 2000 字以内。",
    "retry": "重试",
    "keptDraft": "您写的问题还在输入框里，可以点「重试」再发一次。",
    "bestMatch": "最相似的已解决案例",
    "toConfirm": "可能是这个案例（未经确认，已请师傅确认）",
    "proposal": {
        Proposal.PENDING: "师傅正在确认推荐的案例是否适用。",
        Proposal.CONFIRMED: "师傅已确认：可以按这个案例处理。",
        Proposal.DECLINED: "师傅看过了：这个案例不适用，师傅会直接解答。",
    },
    "solved": "解决了",
    "notSolved": "没解决，找师傅",
    "solvedThanks": "太好了！问题已解决，感谢反馈。",
    "alreadyWithExpert": "您的问题已经转给师傅了，请看下方的工单，师傅的回复会显示在那里。",
    "ticketTitle": "已转给劳模工匠师傅",
    "ticketWaiting": "正在安排师傅，请稍候。",
    "stageNote": {
        WorkerStage.WAITING: "还没有师傅接单，接单后会在这里回复您。",
        WorkerStage.PASSED_ON: "原来的师傅暂时处理不了，已转给其他师傅，请稍候。",
        WorkerStage.HANDLING: "{name} 师傅已接单，正在处理。",
    },
    "typicalWait": "通常 {n} 分钟内回复。",
    "leaveNote": "您可以先关闭这个页面，师傅的回复会保存下来：之后在这部手机上重新扫码打开本页，"
    "点「我的提问记录」就能看到。",
    "expertLabel": "答疑师傅",
    "status": WORKER_STATUS,
    "expert": "师傅",
    "system": "系统",
    "replyPlaceholder": "补充说明或回复师傅…",
    "send": "发送",
    "photo": "拍照/图片",
    "photoSending": "正在上传图片…",
    "rateTitle": "问题解决了吗？给师傅打个分吧",
    "close": "结束提问",
    "closedThanks": "本次提问已结束，感谢您的评价！",
    "closedUnrated": "本次提问已结束。",
    "withdraw": "撤回问题",
    "withdrawConfirm": "再点一次，确认撤回",
    "withdrawn": "您已撤回这个问题。",
    "yourRating": "您的评分：",
    "stars": "星",
    "historyEmpty": "还没有提问记录。",
    "ticketGone": "这个工单已无法查看。",
    "more": "展开全文",
    "less": "收起",
}

EXPERT = ERRORS | {
    "unauthorized": "登录已失效，请向管理员重新获取登录链接。",
    "loading": "加载中…",
    "queueEmpty": "目前没有分配给您的问题。",
    "status": EXPERT_STATUS,
    "tier": {Tier.RANKED: "", Tier.CITY: "市级团队", Tier.ADMIN: "管理员指派"},
    "claimed": "已认领",
    "claim": "认领",
    "decline": "转给其他师傅",
    "declined": "已转给其他师傅。",
    "proposalTitle": "系统认为可能是这个已解决案例，请确认：",
    "proposalRight": "对，按这个案例处理",
    "proposalWrong": "不对，我来回答",
    "proposalState": {
        Proposal.CONFIRMED: "您已确认这个案例，工人已收到。",
        Proposal.DECLINED: "您判断这个案例不适用，请直接解答。",
    },
    "answerPlaceholder": "写下您的解答：原因、检查步骤、处理方法…",
    "send": "发送解答",
    "photo": "附图片",
    "similarTitle": "相似的已解决案例（供参考）",
    "similarEmpty": "没有找到相似案例。",
    "useDraft": "用作草稿",
    "worker": "工人",
    "you": "我",
    "system": "系统",
    "probability": "匹配概率",
    "pick": "请从左侧选择一个问题。",
    "more": "展开全文",
    "less": "收起",
}

ADMIN = ERRORS | {
    "learning": {
        "sources": {
            LabelSource.EXPERT: "师傅确认",
            LabelSource.WORKER: "工人反馈",
            LabelSource.PUBLISHED: "发布案例",
        },
        "yes": "适用",
        "no": "不适用",
        "labels": "标注",
        "fittedAt": "上次校准",
        "never": "尚未校准",
        "sets": "校准所用题集",
        "precision": "跨题集推荐准确率",
        "coverage": "自动解答覆盖率",
        "firstShown": "正确案例排在首位（推荐或待确认）",
        "scenes": {"knowledge": "现有案例库", "with distractors": "加入干扰案例后"},
    },
    "unauthorized": "管理员令牌无效。",
    "loading": "加载中…",
    "png": "PNG",
    "svg": "SVG",
    "candidatesEmpty": "暂无待发布的候选案例。",
    "publish": "发布为案例",
    "published": "已发布为案例 ",
    "title": "标题",
    "question": "问题",
    "answer": "解答",
    "issueLink": "生成登录链接",
    "copy": "复制",
    "copied": "已复制",
    "active": "在岗",
    "inactive": "停用",
    "reindexStates": {"idle": "空闲", "running": "正在重建…", "done": "已完成", "failed": "失败"},
    "charts": {
        "weekly": "每周提问数",
        "solvedShare": "每周案例直接解决占比（%）",
        "responseRegion": "各地区首次回复时间中位数（分钟）",
        "byIndustry": "各行业提问数",
        "byRegion": "各地区提问数",
    },
    "totals": {
        "questions": "提问总数",
        "solvedShare": "案例直接解决",
        "tickets": "转师傅工单",
        "answered": "已解答",
        "median": "首次回复中位数（分钟）",
        "rating": "平均评分",
    },
    "noData": "暂无数据",
    "unknown": "未填写",
}
