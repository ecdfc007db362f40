"""User-facing text, Chinese first, in one place for every channel."""

REJECT_REPLY = (
    "这里专门解答生产一线的技术问题。工资、请假、会费、福利、评选等事务，"
    "请咨询本单位工会，或拨打职工服务热线 12351。"
)
SUGGEST_REPLY = "找到了相似的已解决案例，请看是否解决了您的问题。"
ROUTE_REPLY = "暂时没有找到能直接解决的案例，可以提交给劳模工匠师傅来解答。"
DEGRADED_REPLY = "知识库正在维护，您的问题将直接转给师傅解答。"
