"""Examples of what the experts do not handle: workplace admin, welfare, chit-chat.

A question much closer to these than to any case or expert profile is rejected with a pointer
to where to ask instead. Written by hand for the programme, not taken from the evaluation set.
"""

OFF_TOPIC_EXAMPLES = (
    "食堂早饭供应到几点",
    "今天中午食堂吃什么",
    "工资什么时候发",
    "这个月工资怎么少了",
    "加班费怎么算",
    "年假有几天，怎么请假",
    "请病假需要什么手续",
    "工会会费每个月交多少",
    "怎么加入工会",
    "工会发的过节福利什么时候领",
    "先进个人评比的材料交给谁",
    "五一劳动奖章怎么申报",
    "社保公积金怎么查",
    "宿舍热水坏了找谁",
    "班车几点发车",
    "体检报告什么时候出来",
    "明天会下雨吗",
    "国庆节放几天假",
    "给我讲个笑话",
    "你是机器人吗",
    "你好",
    "谢谢",
    "职工子女入学补贴怎么申请",
    "工伤保险怎么报销",
    "劳动合同到期了怎么续签",
    "技能等级证书考试什么时候报名",
    "厂里的篮球比赛在哪报名",
    "单位附近哪里可以停车",
)
