"""Word lists for synthetic Chinese names and place names used by the demo generator."""

SURNAMES = list(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志宏海燕春梅晨浩宇欣怡子涵俊博文雪琳慧婷佳琪嘉颖瑞阳天成立新光荣德福永利"
)
PLACE = list(
    "锦山金汤振兴花园江城月亮湖宝山福民和平东坎珍珠红旗胜利朝阳五道六道七道帽盔元宝桃源丰收长青清泉新华"
)
ROAD_SUFFIX = ["路", "街", "大街", "巷"]
STREETS = [
    ("兴东街道", "street"),
    ("六道口街道", "street"),
    ("七道街道", "street"),
    ("广济街道", "street"),
    ("金山镇", "town"),
]
